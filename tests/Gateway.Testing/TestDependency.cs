using System.Diagnostics.CodeAnalysis;
using Xunit;

namespace Gateway.Testing;

/// <summary>
/// A program some tests need besides the brokers (a browser, node): without it they are skipped on a developer
/// machine and fail where they are required, by their own variable (<c>GATEWAY_REQUIRE_BROWSER</c>,
/// <c>GATEWAY_REQUIRE_NODE</c>, set by <c>.ci/run</c>) or else as broker tests are (<see cref="RabbitMqBroker.Requirement"/>).
/// </summary>
public static class TestDependency
{
    /// <summary>Whether a missing dependency fails the test rather than skipping it, and why.</summary>
    public static (bool Required, string Why) Requirement(string variable)
    {
        var require = Environment.GetEnvironmentVariable(variable);
        return string.IsNullOrEmpty(require)
            ? RabbitMqBroker.Requirement
            : (require is not ("0" or "false" or "False" or "no"), $"{variable}={require}");
    }

    /// <summary>Skips the test, or fails it where the dependency is required.</summary>
    /// <param name="message">What is missing and how to get it.</param>
    /// <param name="tests">Which tests need it ("Browser tests").</param>
    /// <param name="variable">The variable that requires it.</param>
    [DoesNotReturn]
    public static void Unavailable(string message, string tests, string variable)
    {
        var (required, why) = Requirement(variable);
        if (required)
        {
            Assert.Fail($"{message} {tests} are required here ({why}), so this is a failure, not a skip.");
        }

        Assert.Skip(message);
    }

    /// <summary>The repository's root: the first folder above the test assembly that holds Gateway.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Gateway.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Gateway.sln above {AppContext.BaseDirectory}");
    }
}
