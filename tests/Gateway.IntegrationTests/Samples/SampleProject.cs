using System.Diagnostics;
using System.Reflection;
using System.Text;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Samples;

/// <summary>
/// The projects under <c>samples/</c>, published with the real <c>dotnet</c> CLI. They are in
/// Gateway.sln, so after its build publishing finds them up to date and only copies. (Not referenced
/// by the test project: even a reference without its assembly would copy a sample's
/// <c>appsettings.json</c> over the gateway's in the test output.)
/// </summary>
internal static class SampleProject
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(5);

    /// <summary>The configuration this test assembly was built in, which the samples were built in too.</summary>
    public static string Configuration { get; } = typeof(SampleProject).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>The project file of <c>samples/&lt;name&gt;/&lt;name&gt;.csproj</c>.</summary>
    public static string Path(string name) => System.IO.Path.Combine(TestDependency.RepositoryRoot(), "samples", name, name + ".csproj");

    /// <summary><c>dotnet publish</c> of the sample into <paramref name="output"/>, built in this test assembly's configuration (incrementally: usually up to date).</summary>
    public static Task PublishAsync(string name, string output)
        => DotnetAsync(["publish", Path(name), "-c", Configuration, "-o", output]);

    /// <summary>Runs the <c>dotnet</c> CLI; fails with its output when it exits non-zero.</summary>
    public static async Task DotnetAsync(IReadOnlyList<string> arguments)
    {
        var info = new ProcessStartInfo("dotnet", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(s_timeout);
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
        {
            lock (output)
            {
                throw new InvalidOperationException($"dotnet {string.Join(' ', arguments)} exited {process.ExitCode}:{Environment.NewLine}{output}");
            }
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        lock (output)
        {
            output.AppendLine(line);
        }
    }
}
