using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Gateway.IntegrationTests;

/// <summary>
/// The built gateway (Gateway.Host.dll next to the tests) as a real process on a free port, configured
/// by environment variables, in its own working directory; output lines captured.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;

    private GatewayProcess(Process process, DirectoryInfo directory, int port)
    {
        _process = process;
        Directory = directory;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
    }

    public DirectoryInfo Directory { get; }

    public HttpClient Http { get; }

    /// <summary>Standard output and error, line by line.</summary>
    public ConcurrentQueue<string> Output { get; } = new();

    public int ExitCode => _process.ExitCode;

    /// <param name="environment">Variables; <c>{dir}</c> in a value is the process's working directory.</param>
    /// <param name="files">Files to write into the working directory first (e.g. an <c>appsettings.json</c>, which the gateway then uses).</param>
    /// <param name="entryAssembly">The application to run: by default the gateway (Gateway.Host.dll next to the tests); e.g. a sample that embeds it.</param>
    public static GatewayProcess Start(Dictionary<string, string> environment, Dictionary<string, string>? files = null, string? entryAssembly = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("gateway-process-");
        foreach (var (name, content) in files ?? [])
        {
            System.IO.File.WriteAllText(Path.Combine(directory.FullName, name), content);
        }

        var port = FreePort();
        var info = new ProcessStartInfo("dotnet", [entryAssembly ?? Path.Combine(AppContext.BaseDirectory, "Gateway.Host.dll")])
        {
            WorkingDirectory = directory.FullName,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        info.Environment["Gateway__Defaults__Transport"] = Gateway.Testing.TestTransport.Name;
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value.Replace("{dir}", directory.FullName, StringComparison.Ordinal);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the gateway");
        var gateway = new GatewayProcess(process, directory, port);
        process.OutputDataReceived += (_, e) => gateway.Capture(e.Data);
        process.ErrorDataReceived += (_, e) => gateway.Capture(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return gateway;
    }

    /// <summary>Starts the process and waits until it exits by itself (a startup error).</summary>
    public static async Task<GatewayProcess> RunToExitAsync(Dictionary<string, string> environment, TimeSpan timeout)
    {
        var gateway = Start(environment);
        try
        {
            await gateway.WaitForExitAsync(timeout);
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    public string File(string name) => Path.Combine(Directory.FullName, name);

    public HttpStatusCode Get(string path)
    {
        try
        {
            using var response = Http.GetAsync(path).GetAwaiter().GetResult();
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    /// <summary>SIGKILL: no shutdown, no flush beyond what reached the OS (a crash, or <c>kill -9</c>).</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>Sends SIGTERM, as a container runtime does on stop.</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]) ?? throw new InvalidOperationException("kill failed");
        await kill.WaitForExitAsync();
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    /// <summary>The complete lines of a file the gateway may still be appending to.</summary>
    public static List<string> ReadLines(string path)
    {
        if (!System.IO.File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var text = reader.ReadToEnd();

        // Complete lines only: a read racing the gateway's append can see the start of a line without its end.
        return [.. text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Http.Dispose();
        Directory.Delete(recursive: true);
    }

    private void Capture(string? line)
    {
        if (line is not null)
        {
            Output.Enqueue(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
