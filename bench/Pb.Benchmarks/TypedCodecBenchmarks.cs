using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MessagePack;
using MessagePack.Resolvers;
using Pb.Banana;
using Pb.Jelly;

namespace Pb.Benchmarks;

/// <summary>W3t's element, for every serializer alike.</summary>
[MessagePackObject]
public sealed record BenchItem([property: Key(0)] long Id, [property: Key(1)] string Name, [property: Key(2)] double Score);

/// <summary>The same record without attributes, for MessagePack's contractless resolver and System.Text.Json.</summary>
public sealed record PlainItem(long Id, string Name, double Score);

/// <summary>
/// The 1000 Items of W3t as typed records: Pb.Web's typed path (records written as jelly dicts; read straight from the
/// banana tokens into the records) next to MessagePack-CSharp (attributed, and contractless as SignalR's MessagePack
/// hub protocol uses it) and System.Text.Json (typed), one reused buffer per encoder.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class TypedCodecBenchmarks
{
    private static readonly MessagePackSerializerOptions s_contractless = ContractlessStandardResolver.Options;

    private readonly ArrayBufferWriter<byte> _buffer = new(128 * 1024);
    private readonly Jellier _jellier = new();
    private readonly Unjellier _unjellier = new();
    private BenchItem[] _items = null!;
    private PlainItem[] _plain = null!;
    private List<PlainItem> _plainList = null!;
    private byte[] _jelly = null!, _msgpack = null!, _contractlessBytes = null!, _json = null!;
    private ReadOnlySequence<byte> _jellySegments;
    private TypedPlan _plan = null!;

    [GlobalSetup]
    public void Setup()
    {
        _items = [.. Enumerable.Range(0, 1000).Select(i => new BenchItem(i, $"item-{i}", i * 0.5))];
        _plain = [.. _items.Select(i => new PlainItem(i.Id, i.Name, i.Score))];
        _plainList = [.. _plain];
        _jelly = JellySerializer.Serialize(_plain);
        _msgpack = MessagePackSerializer.Serialize(_items);
        _contractlessBytes = MessagePackSerializer.Serialize(_plain, s_contractless);
        _json = JsonSerializer.SerializeToUtf8Bytes(_plain);
        _plan = TypedPlan.For(typeof(PlainItem[]))!;
        _jellySegments = Segments(_jelly, 4096);
    }

    /// <summary>The bytes in 4 KiB segments, as a pipe hands a large message over.</summary>
    internal static ReadOnlySequence<byte> Segments(byte[] data, int size)
    {
        Segment? first = null, last = null;
        for (int i = 0; i < data.Length; i += size)
        {
            var next = new Segment(data.AsMemory(i, Math.Min(size, data.Length - i)), last);
            first ??= next;
            last = next;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    [BenchmarkCategory("typed-encode"), Benchmark(Baseline = true)]
    public int Encode_MessagePack_Attributed()
    {
        _buffer.ResetWrittenCount();
        MessagePackSerializer.Serialize(_buffer, _items);
        return _buffer.WrittenCount;
    }

    [BenchmarkCategory("typed-encode"), Benchmark]
    public int Encode_MessagePack_Contractless()
    {
        _buffer.ResetWrittenCount();
        MessagePackSerializer.Serialize(_buffer, _plain, s_contractless);
        return _buffer.WrittenCount;
    }

    [BenchmarkCategory("typed-encode"), Benchmark]
    public int Encode_SystemTextJson()
    {
        _buffer.ResetWrittenCount();
        using var writer = new Utf8JsonWriter(_buffer);
        JsonSerializer.Serialize(writer, _plain);
        return _buffer.WrittenCount;
    }

    [BenchmarkCategory("typed-encode"), Benchmark]
    public int Encode_PbWeb_Typed() => EncodeJelly(_plain);

    /// <summary>The same records in a List&lt;T&gt;, as many [Remote] methods return them.</summary>
    [BenchmarkCategory("typed-encode"), Benchmark]
    public int Encode_PbWeb_Typed_List() => EncodeJelly(_plainList);

    private int EncodeJelly(object value)
    {
        _buffer.ResetWrittenCount();
        var writer = new BananaWriter(_buffer, BananaDialect.Pb);
        _jellier.Jelly(ref writer, value);
        writer.Flush();
        return _buffer.WrittenCount;
    }

    [BenchmarkCategory("typed-decode"), Benchmark(Baseline = true)]
    public BenchItem[] Decode_MessagePack_Attributed() => MessagePackSerializer.Deserialize<BenchItem[]>(_msgpack);

    [BenchmarkCategory("typed-decode"), Benchmark]
    public PlainItem[] Decode_MessagePack_Contractless() => MessagePackSerializer.Deserialize<PlainItem[]>(_contractlessBytes, s_contractless);

    [BenchmarkCategory("typed-decode"), Benchmark]
    public PlainItem[] Decode_SystemTextJson() => JsonSerializer.Deserialize<PlainItem[]>(_json)!;

    [BenchmarkCategory("typed-decode"), Benchmark]
    public PlainItem[] Decode_PbWeb_Typed() => Read(new ReadOnlySequence<byte>(_jelly));

    [BenchmarkCategory("typed-decode"), Benchmark]
    public PlainItem[] Decode_PbWeb_Typed_InSegments() => Read(_jellySegments);

    [BenchmarkCategory("typed-decode"), Benchmark]
    public PlainItem[] Decode_PbWeb_TreeThenConvert() => JellyConvert.To<PlainItem[]>(JellySerializer.Deserialize(_jelly));

    private readonly BananaParser _parser = new(BananaDialect.Pb);

    /// <summary>The frame scan a connection runs over each message before decoding it (the 92 KB of 1000 Items).</summary>
    [BenchmarkCategory("frame-scan"), Benchmark]
    public long FrameScan_PbWeb() => Scan(new ReadOnlySequence<byte>(_jelly));

    [BenchmarkCategory("frame-scan"), Benchmark]
    public long FrameScan_PbWeb_InSegments() => Scan(_jellySegments);

    private long Scan(ReadOnlySequence<byte> bytes)
    {
        return _parser.TryParseItem(ref bytes, out ReadOnlySequence<byte> item) ? item.Length : throw new InvalidOperationException("incomplete");
    }

    private PlainItem[] Read(ReadOnlySequence<byte> bytes)
    {
        var reader = new BananaReader(bytes, BananaDialect.Pb);
        return _unjellier.TryUnjellyTyped(ref reader, null, _plan, out object? value) ? (PlainItem[])value! : throw new InvalidOperationException("the typed read gave way");
    }
}
