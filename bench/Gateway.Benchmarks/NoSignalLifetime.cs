using Microsoft.Extensions.Hosting;

namespace Gateway.Benchmarks;

/// <summary>
/// Replaces <c>ConsoleLifetime</c> in the benchmark's hosts: that one swallows SIGTERM and Ctrl+C to
/// stop the host gracefully, which would keep a benchmark run alive; here a signal ends the process.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1812", Justification = "Created by dependency injection.")]
internal sealed class NoSignalLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
