using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pb.AspNetCore.Internal;

/// <summary>
/// Keeps <c>access_token</c> query values out of every log line the app writes, the host's own included: browsers
/// cannot set headers on a WebSocket, so the token travels in the URL (as with SignalR), and ASP.NET Core's hosting
/// logs each request's URL at Information ("Request starting HTTP/1.1 GET http://host/pb?access_token=...").
/// <c>AddPerspectiveBroker</c> wraps the app's <see cref="ILoggerFactory"/> with this one: every logger it makes
/// rewrites <c>access_token=VALUE</c> to <c>access_token=[Redacted]</c> in the message and in the structured values
/// that providers (JSON console, OpenTelemetry) write. Messages without the word are passed on untouched.
/// </summary>
internal sealed partial class AccessTokenRedactingLoggerFactory(ILoggerFactory inner, bool ownsInner) : ILoggerFactory
{
    internal const string Redacted = "[Redacted]";

    public ILogger CreateLogger(string categoryName) => new Logger(inner.CreateLogger(categoryName));

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose()
    {
        if (ownsInner)
        {
            inner.Dispose();
        }
    }

    /// <summary>Wraps the <see cref="ILoggerFactory"/> registration of <paramref name="services"/> (once).</summary>
    internal static void Decorate(IServiceCollection services)
    {
        services.AddLogging();
        ServiceDescriptor? descriptor = services.LastOrDefault(d => d.ServiceType == typeof(ILoggerFactory) && !d.IsKeyedService);
        if (descriptor is null || descriptor.ImplementationType == typeof(AccessTokenRedactingLoggerFactory))
        {
            return;
        }
        Func<IServiceProvider, ILoggerFactory> make;
        bool owns = true;
        if (descriptor.ImplementationInstance is ILoggerFactory instance)
        {
            make = _ => instance;
            owns = false; // the app made it and disposes it
        }
        else if (descriptor.ImplementationFactory is { } factory)
        {
            make = sp => (ILoggerFactory)factory(sp);
        }
        else
        {
            Type type = descriptor.ImplementationType!;
            make = sp => (ILoggerFactory)ActivatorUtilities.CreateInstance(sp, type);
        }
        services.Remove(descriptor);
        services.Add(ServiceDescriptor.Describe(typeof(ILoggerFactory), sp => new AccessTokenRedactingLoggerFactory(make(sp), owns), descriptor.Lifetime));
    }

    [GeneratedRegex(@"(?<=access_token=)[^&\s""'#]+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex TokenValue();

    /// <summary><paramref name="text"/> with every <c>access_token=</c> value replaced.</summary>
    internal static string Redact(string text) =>
        text.Contains("access_token=", StringComparison.OrdinalIgnoreCase) ? TokenValue().Replace(text, Redacted) : text;

    private static bool Mentions(object? value) => value switch
    {
        string s => s.Contains("access_token=", StringComparison.OrdinalIgnoreCase),
        Uri u => u.OriginalString.Contains("access_token=", StringComparison.OrdinalIgnoreCase),
        Microsoft.AspNetCore.Http.QueryString q => q.Value?.Contains("access_token=", StringComparison.OrdinalIgnoreCase) == true,
        _ => false,
    };

    private sealed class Logger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!inner.IsEnabled(logLevel))
            {
                return;
            }
            if (state is IReadOnlyList<KeyValuePair<string, object?>> values)
            {
                // Structured state (LoggerMessage, the host's request logs): its message is made of its values.
                bool mentions = false;
                for (int i = 0; i < values.Count && !mentions; i++)
                {
                    mentions = Mentions(values[i].Value);
                }
                if (!mentions)
                {
                    inner.Log(logLevel, eventId, state, exception, formatter);
                    return;
                }
                var redacted = new RedactedState(values, Redact(formatter(state, exception)));
                inner.Log(logLevel, eventId, redacted, exception, static (s, _) => s.Message);
                return;
            }
            inner.Log(logLevel, eventId, state, exception, (s, e) => Redact(formatter(s, e)));
        }
    }

    /// <summary>The values of a log state with tokens redacted, and its redacted message.</summary>
    private sealed class RedactedState : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private readonly KeyValuePair<string, object?>[] _values;

        public RedactedState(IReadOnlyList<KeyValuePair<string, object?>> values, string message)
        {
            Message = message;
            _values = new KeyValuePair<string, object?>[values.Count];
            for (int i = 0; i < values.Count; i++)
            {
                KeyValuePair<string, object?> pair = values[i];
                _values[i] = Mentions(pair.Value) ? new(pair.Key, Redact(pair.Value!.ToString()!)) : pair;
            }
        }

        public string Message { get; }

        public KeyValuePair<string, object?> this[int index] => _values[index];

        public int Count => _values.Length;

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_values).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => Message;
    }
}
