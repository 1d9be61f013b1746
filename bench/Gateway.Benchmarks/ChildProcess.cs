using System.Diagnostics;

namespace Gateway.Benchmarks;

/// <summary>Child processes of this executable (servers, idle clients, the pinned client), optionally pinned to one CPU with <c>taskset</c>.</summary>
internal static class ChildProcess
{
    private static readonly Lazy<string?> s_taskset = new(() => FindOnPath("taskset"));

    /// <summary>The path of util-linux <c>taskset</c>, or null when it is not installed.</summary>
    public static string? Taskset => s_taskset.Value;

    /// <summary>Starts this executable with <paramref name="args"/>, on CPU <paramref name="cpu"/> only when given (from its first instruction, so every runtime thread inherits it).</summary>
    public static Process StartSelf(int? cpu, bool redirectOutput, params string[] args)
    {
        var path = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var info = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardOutput = redirectOutput,
            RedirectStandardInput = true,
        };
        if (cpu is { } core)
        {
            info.FileName = Taskset ?? throw new InvalidOperationException("pinning needs taskset (util-linux)");
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(core.ToString(System.Globalization.CultureInfo.InvariantCulture));
            info.ArgumentList.Add(path);
        }
        else
        {
            info.FileName = path;
        }

        if (Path.GetFileNameWithoutExtension(path) == "dotnet")
        {
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Gateway.Benchmarks.dll"));
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + path);
        if (redirectOutput)
        {
            process.StandardInput.AutoFlush = true;
        }

        return process;
    }

    /// <summary>Reads the child's stdout until a line with <paramref name="prefix"/>; other lines are passed through.</summary>
    public static async Task<string> ReadLineStartingWithAsync(Process process, string prefix, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(cts.Token).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"child process ended without a '{prefix.Trim()}' line (exit code {(process.HasExited ? process.ExitCode : -1)})");
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return line[prefix.Length..];
                }

                Console.WriteLine("    | " + line);
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"no '{prefix.Trim()}' line from the child process within {timeout.TotalSeconds} s");
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the child to exit, then kills it and its children.</summary>
    public static async Task EndAsync(Process process, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Exits this process when its stdin ends: the parent closes it, or died.</summary>
    public static void ExitWhenParentGoes() => _ = Task.Run(
        async () =>
        {
            await Console.In.ReadToEndAsync().ConfigureAwait(false);
            Environment.Exit(3);
        },
        CancellationToken.None);

    private static string? FindOnPath(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
