using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Pb.AspNetCore.Tests;

/// <summary>
/// Keeps every log line at every level: category, event id, level, the formatted message (with the exception) and
/// every structured value, as a structured provider (JSON console, OpenTelemetry) would write them.
/// </summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    public sealed record Entry(string Category, int EventId, LogLevel Level, string Message, string Values);

    public ConcurrentQueue<Entry> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string values = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}"))
                : string.Empty;
            provider.Entries.Enqueue(new Entry(category, eventId.Id, logLevel, formatter(state, exception) + " " + exception, values));
        }
    }
}
