using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Gateway.Testing;

namespace Gateway.IntegrationTests.Cluster;

/// <summary>
/// A redis-server of the test's own on a free 127.0.0.1 port, so that stopping and starting it disturbs
/// no other test (the shared one on 6379 stays up). Skipped on a developer machine without redis-server
/// (<c>.ci/redis.sh</c> installs it), a failure where servers are required (CI).
/// </summary>
internal sealed class ClusterRedis : IAsyncDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("gateway-cluster-redis-");
    private readonly bool _appendOnly;
    private Process? _process;

    private ClusterRedis(int port, bool appendOnly)
    {
        Port = port;
        _appendOnly = appendOnly;
    }

    public int Port { get; }

    public string Endpoint => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <param name="appendOnly">Keep data across a restart (AOF, as <c>.ci/redis.sh</c> runs it); otherwise a restart starts empty.</param>
    public static async Task<ClusterRedis> StartAsync(bool appendOnly = false)
    {
        if (!File.Exists("/usr/bin/redis-server") && !File.Exists("/usr/local/bin/redis-server"))
        {
            var (required, why) = RabbitMqBroker.Requirement;
            const string Message = "redis-server is not installed (run .ci/redis.sh as root once to install it).";
            if (required)
            {
                Assert.Fail($"{Message} Server tests are required here ({why}), so this is a failure, not a skip.");
            }

            Assert.Skip(Message);
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var redis = new ClusterRedis(port, appendOnly);
        await redis.StartAgainAsync();
        return redis;
    }

    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo("redis-server",
            ["--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", _appendOnly ? "yes" : "no", "--appendfsync", "always", "--dir", _directory.FullName])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Eventually.TrueAsync(Answers, $"redis-server answers on {Endpoint}", TimeSpan.FromSeconds(20));
    }

    /// <summary>Stops the server (SIGTERM; with append-only, the file is written first).</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
            if (kill is not null)
            {
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
            }

            process.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
            process.Dispose();
            _process = null;
        }

        _directory.Delete(recursive: true);
    }

    private bool Answers()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            var stream = client.GetStream();
            stream.Write("PING\r\n"u8);
            var reply = new byte[16];
            stream.ReadTimeout = 1000;
            return stream.Read(reply) > 0 && reply[0] == (byte)'+';
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            return false;
        }
    }
}
