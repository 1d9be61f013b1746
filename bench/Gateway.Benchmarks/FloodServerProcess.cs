using System.Diagnostics;
using System.Globalization;

namespace Gateway.Benchmarks;

/// <summary>
/// The flood server in a child process (<c>serve-flood</c>), pinned to its own CPU, driven by lines on
/// its stdin: <c>session &lt;size&gt; &lt;binary 0|1&gt; &lt;frames,...&gt;</c> (answers
/// <c>SESSION &lt;id&gt;</c>), <c>go &lt;id&gt; &lt;phase&gt;</c>, <c>connected &lt;id&gt;</c> (answers
/// <c>CONNECTED &lt;n&gt;</c>), <c>remove &lt;id&gt;</c>, <c>logs</c> (answers <c>LOGS &lt;summary&gt;</c>).
/// The child ends when its stdin closes (so also when this process dies), after an hour at most, and
/// is killed when this object is disposed.
/// </summary>
internal sealed class FloodServerProcess : IFloodServer
{
    private const string PortPrefix = "PORT ";
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly int _port;
    private readonly SemaphoreSlim _lock = new(1, 1);

    private FloodServerProcess(Process process, int port)
    {
        _process = process;
        _port = port;
    }

    public static async Task<FloodServerProcess> StartAsync(int? cpu)
    {
        var process = ChildProcess.StartSelf(cpu, redirectOutput: true, "serve-flood");
        try
        {
            var port = int.Parse(await ChildProcess.ReadLineStartingWithAsync(process, PortPrefix, TimeSpan.FromSeconds(60)).ConfigureAwait(false), CultureInfo.InvariantCulture);
            return new FloodServerProcess(process, port);
        }
        catch
        {
            ChildProcess.Kill(process);
            process.Dispose();
            throw;
        }
    }

    public async Task<FloodHandle> CreateSessionAsync(int payloadSize, bool binary, long[] framesPerConnection, double pace = 0)
    {
        var answer = await AskAsync(
            string.Create(CultureInfo.InvariantCulture, $"session {payloadSize} {(binary ? 1 : 0)} {string.Join(',', framesPerConnection)} {pace:R}"),
            "SESSION ").ConfigureAwait(false);
        var id = int.Parse(answer, CultureInfo.InvariantCulture);
        return new FloodHandle(id, new Uri(string.Create(CultureInfo.InvariantCulture, $"ws://127.0.0.1:{_port}/flood/{id}")), framesPerConnection);
    }

    public void Go(FloodHandle session, int phase) => _process.StandardInput.WriteLine(string.Create(CultureInfo.InvariantCulture, $"go {session.Id} {phase}"));

    public async Task<int> ConnectedAsync(FloodHandle session) =>
        int.Parse(await AskAsync(string.Create(CultureInfo.InvariantCulture, $"connected {session.Id}"), "CONNECTED ").ConfigureAwait(false), CultureInfo.InvariantCulture);

    public Task RemoveSessionAsync(FloodHandle session)
    {
        _process.StandardInput.WriteLine(string.Create(CultureInfo.InvariantCulture, $"remove {session.Id}"));
        return Task.CompletedTask;
    }

    public async Task<string> TakeLogSummaryAsync() => (await AskAsync("logs", "LOGS ").ConfigureAwait(false)).Replace("\\n", "\n", StringComparison.Ordinal);

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close(); // the server stops when its stdin ends
            await ChildProcess.EndAsync(_process, TimeSpan.FromSeconds(15)).ConfigureAwait(false);
        }
        finally
        {
            ChildProcess.Kill(_process);
            _process.Dispose();
            _lock.Dispose();
        }
    }

    /// <summary><c>serve-flood [port]</c>: the flood server, driven by stdin until it ends (at most an hour).</summary>
    public static async Task<int> ServeAsync(string[] args)
    {
        var port = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 0;
        using var lifetime = new CancellationTokenSource(TimeSpan.FromHours(1));
        var server = await BenchServer.StartAsync(port, TimeSpan.FromMinutes(10)).ConfigureAwait(false);
        await using (server.ConfigureAwait(false))
        {
            var sessions = new Dictionary<int, FloodHandle>();
            Console.WriteLine(PortPrefix + server.Port.ToString(CultureInfo.InvariantCulture));
            try
            {
                while (await Console.In.ReadLineAsync(lifetime.Token).ConfigureAwait(false) is { } line)
                {
                    var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    FloodHandle? Session() => f.Length > 1 && sessions.TryGetValue(int.Parse(f[1], CultureInfo.InvariantCulture), out var s) ? s : null;
                    switch (f.FirstOrDefault())
                    {
                        case "session":
                            var frames = f[3].Split(',').Select(n => long.Parse(n, CultureInfo.InvariantCulture)).ToArray();
                            var pace = f.Length > 4 ? double.Parse(f[4], CultureInfo.InvariantCulture) : 0;
                            var created = await server.CreateSessionAsync(int.Parse(f[1], CultureInfo.InvariantCulture), f[2] == "1", frames, pace).ConfigureAwait(false);
                            sessions[created.Id] = created;
                            Console.WriteLine("SESSION " + created.Id.ToString(CultureInfo.InvariantCulture));
                            break;
                        case "go" when Session() is { } s:
                            server.Go(s, int.Parse(f[2], CultureInfo.InvariantCulture));
                            break;
                        case "connected":
                            var connected = Session() is { } c ? await server.ConnectedAsync(c).ConfigureAwait(false) : 0;
                            Console.WriteLine("CONNECTED " + connected.ToString(CultureInfo.InvariantCulture));
                            break;
                        case "remove" when Session() is { } s:
                            await server.RemoveSessionAsync(s).ConfigureAwait(false);
                            sessions.Remove(s.Id);
                            break;
                        case "logs":
                            Console.WriteLine("LOGS " + (await server.TakeLogSummaryAsync().ConfigureAwait(false)).Replace("\n", "\\n", StringComparison.Ordinal));
                            break;
                    }
                }
            }
            catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
            {
                // An hour is over: stop.
            }
        }

        return 0;
    }

    /// <summary>One command with an answer at a time; answers come in order.</summary>
    private async Task<string> AskAsync(string command, string answerPrefix)
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            await _process.StandardInput.WriteLineAsync(command).ConfigureAwait(false);
            return await ChildProcess.ReadLineStartingWithAsync(_process, answerPrefix, s_answerTimeout).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }
}
