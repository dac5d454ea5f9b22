using System.Diagnostics;
using BenchmarkDotNet.Running;

namespace Pb.Benchmarks;

public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["quick", ..])
        {
            Quick(args.Length > 1 ? args[1] : null, args.Length > 2 ? double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1);
            return;
        }
        if (args is ["quick-call", ..])
        {
            QuickCall(args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2).GetAwaiter().GetResult();
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }

    private sealed class Shop : Root
    {
        [Remote] public PlainItem[] EchoItems(PlainItem[] items) => items;

        [Remote] public object? Echo(object? x) => x;
    }

    /// <summary>W3t and W3 in one process over real TCP, with a count of first-chance exceptions; each for <paramref name="seconds"/>.</summary>
    private static async Task QuickCall(double seconds)
    {
        int exceptions = 0;
        AppDomain.CurrentDomain.FirstChanceException += (_, _) => Interlocked.Increment(ref exceptions);
        await using var server = new PbServer(new Shop());
        server.Start(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        await using PbClient client = await PbClient.ConnectAsync("127.0.0.1", server.Port);
        RemoteReference root = await client.GetRootObjectAsync();
        PlainItem[] items = [.. Enumerable.Range(0, 1000).Select(i => new PlainItem(i, $"item-{i}", i * 0.5))];
        object?[] dicts = [items.Select(i => (object?)new Dictionary<string, object?> { ["id"] = i.Id, ["name"] = i.Name, ["score"] = i.Score }).ToList()];
        foreach (string w in new[] { "W3t", "W3", "W3t" })
        {
            int before = exceptions;
            var clock = Stopwatch.StartNew();
            int n = 0;
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                if (w == "W3t")
                {
                    await root.CallRemoteAsync<PlainItem[]>("echoItems", [items]);
                }
                else
                {
                    await root.CallRemoteAsync("echo", dicts);
                }
                n++;
            }
            Console.WriteLine($"{w}: {n / clock.Elapsed.TotalSeconds:F0} calls/s, {exceptions - before} first-chance exceptions");
        }
    }

    /// <summary>A rough stopwatch pass over the typed codec (for a quick look while working; docs use BenchmarkDotNet).</summary>
    /// <param name="only">Runs the cases whose name contains this (all when null), each for <paramref name="seconds"/>: a
    /// case run for 20 s is what <c>perf record -p</c> looks at.</param>
    /// <param name="seconds">How long each case runs after its warm-up.</param>
    private static void Quick(string? only, double seconds)
    {
        var b = new TypedCodecBenchmarks();
        b.Setup();
        var c = new CodecBenchmarks();
        c.Setup();
        Console.WriteLine($"bytes: jelly {b.Encode_PbWeb_Typed()}, msgpack attributed {b.Encode_MessagePack_Attributed()}, msgpack contractless {b.Encode_MessagePack_Contractless()}, json {b.Encode_SystemTextJson()}");
        (string, Func<object>)[] cases =
        [
            ("encode msgpack", () => b.Encode_MessagePack_Attributed()),
            ("encode msgpack contractless", () => b.Encode_MessagePack_Contractless()),
            ("encode pbweb typed", () => b.Encode_PbWeb_Typed()),
            ("encode pbweb typed List<T>", () => b.Encode_PbWeb_Typed_List()),
            ("decode msgpack", () => b.Decode_MessagePack_Attributed()),
            ("decode msgpack contractless", () => b.Decode_MessagePack_Contractless()),
            ("decode pbweb typed", () => b.Decode_PbWeb_Typed()),
            ("decode pbweb typed, 4 KiB segments", () => b.Decode_PbWeb_Typed_InSegments()),
            ("decode pbweb tree+convert", () => b.Decode_PbWeb_TreeThenConvert()),
            ("frame scan pbweb", () => b.FrameScan_PbWeb()),
            ("frame scan pbweb, 4 KiB segments", () => b.FrameScan_PbWeb_InSegments()),
            ("untyped: encode 1000 dicts (jelly)", () => c.Dicts_Encode_Jelly()),
            ("untyped: decode 1000 dicts (jelly)", () => c.Dicts_Decode_Jelly()!),
            ("untyped: decode 1000 dicts (msgpack object)", () => c.Dicts_Decode_MessagePack()!),
        ];
        foreach ((string name, Func<object> run) in cases.Where(c => only is null || c.Item1.Contains(only, StringComparison.Ordinal)))
        {
            for (int i = 0; i < 200; i++)
            {
                run();
            }
            var clock = Stopwatch.StartNew();
            int n = 0;
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                run();
                n++;
            }
            Console.WriteLine($"{name,-40} {clock.Elapsed.TotalMicroseconds / n,10:F1} us");
        }
    }
}
