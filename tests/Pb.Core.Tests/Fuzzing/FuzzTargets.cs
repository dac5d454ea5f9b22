using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using Pb.Banana;
using Pb.Jelly;
using Pb.Tests.Broker;

namespace Pb.Tests.Fuzzing;

/// <summary>
/// The three fuzz targets. Each returns the outcome's name, or throws <see cref="FuzzFailure"/> when the input
/// broke a property: an exception other than BananaException/JellyException/PbProtocolException, more steps than
/// the input has bytes, or more memory than 64 KiB + 200 bytes per input byte.
/// </summary>
internal static class FuzzTargets
{
    public static long AllocationLimit(int length) => 64 * 1024 + 200L * length;

    private static void CheckAllocation(long before, byte[] input)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > AllocationLimit(input.Length))
        {
            throw new FuzzFailure($"allocated {allocated} bytes for {input.Length} input bytes", isAllocation: true);
        }
    }

    private static bool Documented(Exception e) => e is BananaException or JellyException or PbProtocolException;

    /// <summary>(a) Frame scan (BananaParser) and token read (BananaReader, token by token and as a tree), either dialect, whole or in two segments.</summary>
    public static string Banana(byte[] input)
    {
        BananaDialect dialect = (input.Length & 1) == 0 ? BananaDialect.Pb : BananaDialect.None;
        int cut = input.Length == 0 ? 0 : (input[0] * 31 + input.Length) % input.Length;
        long before = GC.GetAllocatedBytesForCurrentThread();
        Exception? error = null;
        int items = 0;
        try
        {
            var parser = new BananaParser(dialect);
            ReadOnlySequence<byte> buffer = Fuzzer.Split(input, cut);
            while (parser.TryParseItem(ref buffer, out ReadOnlySequence<byte> item))
            {
                if (++items > input.Length)
                {
                    throw new FuzzFailure($"{items} items from {input.Length} bytes");
                }
                var reader = new BananaReader(item, dialect);
                long tokens = 0;
                while (reader.TryReadToken(out _))
                {
                    if (++tokens > item.Length)
                    {
                        throw new FuzzFailure($"{tokens} tokens from a {item.Length}-byte item");
                    }
                }
                var treeReader = new BananaReader(item, dialect);
                treeReader.TryReadTree(out _);
            }
        }
        catch (Exception e) when (Documented(e))
        {
            error = e;
        }
        CheckAllocation(before, input);
        return "banana " + Fuzzer.Outcome(error);
    }

    private static readonly JellyOptions s_jellyOptions = new()
    {
        Types = new JellyTypeRegistry().Add<pbvectors.Point>("pbvectors.Point").Add<Point>("pbinterop.Point").Add<StatusCopy>("pbvectors.Status"),
    };

    /// <summary>(b) The unjellier over every parsed item; a bad jelly tree fails that value only, as on a connection.</summary>
    public static string Unjelly(byte[] input)
    {
        BananaDialect dialect = (input.Length & 1) == 0 ? BananaDialect.Pb : BananaDialect.None;
        long before = GC.GetAllocatedBytesForCurrentThread();
        Exception? error = null;
        string last = "none";
        int items = 0;
        try
        {
            var parser = new BananaParser(dialect);
            var unjellier = new Unjellier(s_jellyOptions);
            var buffer = new ReadOnlySequence<byte>(input);
            while (parser.TryParseItem(ref buffer, out ReadOnlySequence<byte> item))
            {
                if (++items > input.Length)
                {
                    throw new FuzzFailure($"{items} items from {input.Length} bytes");
                }
                var reader = new BananaReader(item, dialect);
                try
                {
                    last = unjellier.Unjelly(ref reader)?.GetType().Name ?? "null";
                }
                catch (JellyException e)
                {
                    last = Fuzzer.Outcome(e);
                }
            }
        }
        catch (Exception e) when (Documented(e))
        {
            error = e;
        }
        CheckAllocation(before, input);
        return "unjelly " + last + " / " + Fuzzer.Outcome(error);
    }

    /// <summary>
    /// (c) The broker's message handling on the server side, after a successful negotiation (pb dialect): each
    /// parsed item goes to <c>Broker.HandleMessage</c> through a minimal <see cref="IBrokerTransport"/> that
    /// writes answers with the real BananaWriter into memory. A documented error closes the connection (stops the input).
    /// </summary>
    public static string Broker(byte[] input)
    {
        var transport = new MemoryTransport();
        var broker = new Pb.Broker(transport, s_brokerOptions, new FuzzRoot(), NullLogger.Instance);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Exception? error = null;
        int items = 0;
        try
        {
            var parser = new BananaParser(BananaDialect.Pb);
            var buffer = new ReadOnlySequence<byte>(input);
            while (parser.TryParseItem(ref buffer, out ReadOnlySequence<byte> item))
            {
                if (++items > input.Length)
                {
                    throw new FuzzFailure($"{items} items from {input.Length} bytes");
                }
                broker.HandleMessage(new ReadOnlySequence<byte>(item.ToArray()));
                broker.EndOfBatch();
                if (transport.AbortReason is not null)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (Documented(e))
        {
            error = e;
        }
        CheckAllocation(before, input);
        broker.ConnectionLost(error);
        if (transport.AbortReason is { } reason && !Documented(reason))
        {
            throw new FuzzFailure($"aborted with {reason.GetType().FullName}: {reason}");
        }
        return "broker " + Fuzzer.Outcome(error ?? transport.AbortReason) + " sent:" + (transport.Sent > 0);
    }

    private static readonly BrokerOptions s_brokerOptions = new()
    {
        Jelly = s_jellyOptions,
    };

    private sealed class MemoryTransport : IBrokerTransport, IPbConnection
    {
        private readonly ArrayBufferWriter<byte> _output = new();

        public BananaDialect Dialect => BananaDialect.Pb;

        public BananaLimits Limits { get; } = BananaLimits.Default;

        public int Sent { get; private set; }

        public Exception? AbortReason { get; private set; }

        public void Send<TState>(TState state, MessageWriter<TState> write)
        {
            var w = new BananaWriter(_output, Dialect);
            write(ref w, state);
            w.Flush();
            Sent++;
            _output.ResetWrittenCount();
        }

        public void Abort(Exception reason) => AbortReason ??= reason;

        public IPbConnection Connection => this;

        public Task CloseAsync(Exception reason)
        {
            Abort(reason);
            return Task.CompletedTask;
        }

        public Microsoft.Extensions.DependencyInjection.IServiceScopeFactory? CallServices => null;

        public string ConnectionId => "fuzz";

        public string TransportName => "memory";

        public System.Net.EndPoint? RemoteEndPoint => null;

        public System.Security.Claims.ClaimsPrincipal? User => null;

        public IReadOnlyList<PbLogin> Logins => [];

        public bool IsConnected => AbortReason is null;

        public CancellationToken Disconnected => CancellationToken.None;

        public ValueTask CloseAsync() => default;
    }

    /// <summary>A root with synchronous methods only (no timers left behind by millions of inputs).</summary>
    private sealed class FuzzRoot : Root
    {
        [Remote] public object? Echo(object? x) => x;

        [Remote("add_one")] public long AddOne(long n) => n + 1;

        [Remote] public object?[] Describe(long a, long b = 2, string? c = null) => [a, b, c];

        [Remote] public void Fail(string message) => throw new PbException(message) { RemoteTypeName = "builtins.ValueError" };

        [Remote] public void Crash() => throw new InvalidOperationException("crash");

        [Remote] public Point GetPoint(int x, int y) => new() { X = x, Y = y, Label = "p" };

        [Remote] public Counter GetCounter(long start) => new() { Total = start };
    }
}
