using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MessagePack;
using MessagePack.Resolvers;
using Pb.Banana;
using Pb.Jelly;

namespace Pb.Benchmarks;

/// <summary>
/// Jelly+banana against System.Text.Json and MessagePack-CSharp on the same untyped data, in one run.
/// (a) the call arguments [i, "abcdefghijklmnop"]; (b) a list of 1000 dicts {"id": i, "name": "item-i", "score": i * 0.5}.
/// Every encoder writes into one reused buffer; every decoder reads the same bytes and materializes .NET objects:
/// jelly gives List/PbDictionary, System.Text.Json List/Dictionary with JsonElement values, MessagePack object[]/Dictionary.
/// Jelly's decode is one validating pass (a message that arrived whole); the AfterFrameScan row adds the
/// resumable frame scan a connection runs when a message arrives in pieces.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class CodecBenchmarks : IDisposable
{
    private static readonly MessagePackSerializerOptions s_msgpack = ContractlessStandardResolver.Options;

    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Jellier _jellier = new();
    private readonly Unjellier _unjellier = new();
    private readonly BananaParser _parser = new(BananaDialect.Pb);
    private Utf8JsonWriter _json = null!;

    private List<object?> _args = null!;
    private List<object?> _dicts = null!;
    private List<Dictionary<string, object?>> _dictsJson = null!;
    private byte[] _argsJelly = null!, _argsStj = null!, _argsMsgpack = null!;
    private byte[] _dictsJelly = null!, _dictsStj = null!, _dictsMsgpack = null!;

    [GlobalSetup]
    public void Setup()
    {
        _json = new Utf8JsonWriter(_buffer);
        _args = [42L, "abcdefghijklmnop"];
        _dictsJson = Enumerable.Range(0, 1000)
            .Select(i => new Dictionary<string, object?> { ["id"] = (long)i, ["name"] = $"item-{i}", ["score"] = i * 0.5 })
            .ToList();
        _dicts = _dictsJson.Cast<object?>().ToList();
        _argsJelly = JellySerializer.Serialize(_args);
        _argsStj = JsonSerializer.SerializeToUtf8Bytes(_args);
        _argsMsgpack = MessagePackSerializer.Serialize<object>(_args, s_msgpack);
        _dictsJelly = JellySerializer.Serialize(_dicts);
        _dictsStj = JsonSerializer.SerializeToUtf8Bytes(_dictsJson);
        _dictsMsgpack = MessagePackSerializer.Serialize<object>(_dicts, s_msgpack);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _json.Dispose();
        GC.SuppressFinalize(this);
    }

    // ---- (a) call arguments ----

    [BenchmarkCategory("a-args-encode"), Benchmark(Baseline = true)]
    public int Args_Encode_SystemTextJson() => EncodeJson(_args);

    [BenchmarkCategory("a-args-encode"), Benchmark]
    public int Args_Encode_MessagePack() => EncodeMsgpack(_args);

    [BenchmarkCategory("a-args-encode"), Benchmark]
    public int Args_Encode_Jelly() => EncodeJelly(_args);

    [BenchmarkCategory("a-args-decode"), Benchmark(Baseline = true)]
    public object? Args_Decode_SystemTextJson() => JsonSerializer.Deserialize<List<object?>>(_argsStj);

    [BenchmarkCategory("a-args-decode"), Benchmark]
    public object? Args_Decode_MessagePack() => MessagePackSerializer.Deserialize<object>(_argsMsgpack, s_msgpack);

    [BenchmarkCategory("a-args-decode"), Benchmark]
    public object? Args_Decode_Jelly() => DecodeJelly(_argsJelly);

    // ---- (b) 1000 dicts ----

    [BenchmarkCategory("b-dicts-encode"), Benchmark(Baseline = true)]
    public int Dicts_Encode_SystemTextJson() => EncodeJson(_dictsJson);

    [BenchmarkCategory("b-dicts-encode"), Benchmark]
    public int Dicts_Encode_MessagePack() => EncodeMsgpack(_dicts);

    [BenchmarkCategory("b-dicts-encode"), Benchmark]
    public int Dicts_Encode_Jelly() => EncodeJelly(_dicts);

    [BenchmarkCategory("b-dicts-decode"), Benchmark(Baseline = true)]
    public object? Dicts_Decode_SystemTextJson() => JsonSerializer.Deserialize<List<Dictionary<string, object?>>>(_dictsStj);

    [BenchmarkCategory("b-dicts-decode"), Benchmark]
    public object? Dicts_Decode_MessagePack() => MessagePackSerializer.Deserialize<object>(_dictsMsgpack, s_msgpack);

    [BenchmarkCategory("b-dicts-decode"), Benchmark]
    public object? Dicts_Decode_Jelly() => DecodeJelly(_dictsJelly);

    [BenchmarkCategory("b-dicts-decode"), Benchmark]
    public object? Dicts_Decode_Jelly_AfterFrameScan() => DecodeJellyScanned(_dictsJelly);

    private int EncodeJson<T>(T value)
    {
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        JsonSerializer.Serialize(_json, value);
        return _buffer.WrittenCount;
    }

    private int EncodeMsgpack(object value)
    {
        _buffer.ResetWrittenCount();
        MessagePackSerializer.Serialize(_buffer, value, s_msgpack);
        return _buffer.WrittenCount;
    }

    private int EncodeJelly(object value)
    {
        _buffer.ResetWrittenCount();
        var writer = new BananaWriter(_buffer, BananaDialect.Pb);
        _jellier.Jelly(ref writer, value);
        writer.Flush();
        return _buffer.WrittenCount;
    }

    // What a connection does with a message that arrived whole: one validating pass.
    private object? DecodeJelly(byte[] bytes)
    {
        var reader = new BananaReader(new ReadOnlySequence<byte>(bytes), BananaDialect.Pb);
        return _unjellier.Unjelly(ref reader);
    }

    // What it does when the message arrived in pieces: the frame scan first, then the same pass.
    private object? DecodeJellyScanned(byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        if (!_parser.TryParseItem(ref buffer, out ReadOnlySequence<byte> item))
        {
            throw new InvalidOperationException("incomplete");
        }
        var reader = new BananaReader(item, BananaDialect.Pb);
        return _unjellier.Unjelly(ref reader);
    }
}
