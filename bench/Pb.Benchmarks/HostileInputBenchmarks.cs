using System.Buffers;
using BenchmarkDotNet.Attributes;
using Pb.Banana;
using Pb.Jelly;

namespace Pb.Benchmarks;

/// <summary>
/// What hostile input costs the receiver: each case must fail (or finish) fast with little memory, however
/// large the sizes it declares.
/// </summary>
[MemoryDiagnoser]
public class HostileInputBenchmarks
{
    private byte[] _declaredHugeString = null!;
    private byte[] _nested = null!;
    private byte[] _listBomb = null!;
    private byte[] _fullSizeString = null!;
    private byte[] _collidingKeys = null!;
    private byte[] _ordinaryKeys = null!;

    [GlobalSetup]
    public void Setup()
    {
        // A 640 KiB string declared, 6 bytes sent: the parser waits without reserving anything.
        _declaredHugeString = [0x00, 0x00, 0x28, 0x82, 1, 2, 3, 4, 5, 6];
        // 511 nested lists, the deepest a default receiver accepts.
        object? deep = null;
        for (int i = 0; i < 511; i++)
        {
            deep = new List<object?> { deep };
        }
        _nested = JellySerializer.Serialize(deep);
        // 1 MB of "01 80": each byte pair opens a list; refused at the depth limit.
        _listBomb = new byte[1_000_000];
        for (int i = 0; i < _listBomb.Length; i += 2)
        {
            _listBomb[i] = 0x01;
            _listBomb[i + 1] = 0x80;
        }
        // The largest string Twisted accepts (640 KiB), as bytes.
        _fullSizeString = JellySerializer.Serialize(new byte[BananaLimits.TwistedSizeLimit]);
        // A dict of 16,000 integer keys (k << 32) | k, which long.GetHashCode() maps to 0 (hash flooding),
        // against the same number of ordinary keys.
        var colliding = new Dictionary<long, long>();
        var ordinary = new Dictionary<long, long>();
        for (long k = 0; k < CollisionKeyCount; k++)
        {
            colliding[(k << 32) | k] = k;
            ordinary[k] = k;
        }
        _collidingKeys = JellySerializer.Serialize(colliding);
        _ordinaryKeys = JellySerializer.Serialize(ordinary);
    }

    [Benchmark]
    public bool DeclaredHugeString_Waits()
    {
        var parser = new BananaParser(BananaDialect.Pb);
        var buffer = new ReadOnlySequence<byte>(_declaredHugeString);
        return parser.TryParseItem(ref buffer, out _);
    }

    [Benchmark]
    public object? DeepNesting_511_Decodes() => JellySerializer.Deserialize(_nested);

    [Benchmark]
    public string ListBomb_1MB_Refused()
    {
        try
        {
            var parser = new BananaParser(BananaDialect.Pb);
            var buffer = new ReadOnlySequence<byte>(_listBomb);
            return parser.TryParseItem(ref buffer, out _) ? "accepted" : "waiting";
        }
        catch (BananaException e)
        {
            return e.Message;
        }
    }

    [Benchmark]
    public object? String_640KiB_Decodes() => JellySerializer.Deserialize(_fullSizeString);

    private const int CollisionKeyCount = 16_000;

    [Benchmark]
    public object? Dict_16000_CollidingKeys_Decodes() => JellySerializer.Deserialize(_collidingKeys);

    [Benchmark]
    public object? Dict_16000_OrdinaryKeys_Decodes() => JellySerializer.Deserialize(_ordinaryKeys);
}
