using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Gateway.Benchmarks;

/// <summary>
/// Counts log events of level Warning and above by event, keeping one sample message each, so a
/// benchmark run prints a one-line summary instead of a line per socket (disconnects at stop are
/// Warning in the gateway).
/// </summary>
internal sealed class LogTally(string source) : ILoggerProvider
{
    private readonly ConcurrentDictionary<(LogLevel Level, string Category, int EventId), Entry> _entries = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <summary>Removes and describes what was logged so far; empty when nothing was.</summary>
    public string TakeSummary()
    {
        var parts = new StringBuilder();
        foreach (var (key, entry) in _entries.OrderByDescending(e => e.Key.Level))
        {
            if (_entries.TryRemove(key, out _))
            {
                parts.Append(CultureInfo.InvariantCulture, $"\n    {source} {key.Level} x{entry.Count} {key.Category}[{key.EventId}]: {entry.Sample}");
            }
        }

        return parts.ToString();
    }

    public void Dispose()
    {
    }

    private sealed class Entry(string sample)
    {
        private int _count;

        public string Sample { get; } = sample;

        public int Count => Volatile.Read(ref _count);

        public void Add() => Interlocked.Increment(ref _count);
    }

    private sealed class Logger(LogTally owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var entry = owner._entries.GetOrAdd((logLevel, category, eventId.Id), static (_, arg) => new Entry(arg.formatter(arg.state, arg.exception)), (formatter, state, exception));
            entry.Add();
        }
    }
}
