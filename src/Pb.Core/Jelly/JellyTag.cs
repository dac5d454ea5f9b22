using System.Buffers;
using System.Text;
using Pb.Banana;

namespace Pb.Jelly;

/// <summary>The type tags jelly knows (Twisted's <c>*_atom</c> names in <c>spread/jelly.py</c>).</summary>
internal enum JellyTag : byte
{
    Unknown = 0,
    None,
    Unicode,
    Boolean,
    List,
    Tuple,
    Dictionary,
    Set,
    FrozenSet,
    DateTime,
    Date,
    Time,
    TimeDelta,
    Decimal,
    Reference,
    Dereference,
    Unpersistable,
    Persistent,
    // PB's tags: resolved by a broker.
    Remote,
    Local,
    Cached,
    Lcache,
    // Legacy atoms that exist in jelly but that PB's default security refuses.
    Refused,
    Count,
}

/// <summary>Tag names, their encoded forms per dialect, and classification of incoming tags.</summary>
internal static class JellyTags
{
    private static readonly string[] s_names =
    [
        "", "None", "unicode", "boolean", "list", "tuple", "dictionary", "set", "frozenset", "datetime", "date",
        "time", "timedelta", "decimal", "reference", "dereference", "unpersistable", "persistent", "remote", "local",
        "cached", "lcache", "",
    ];

    // s_encoded[dialect][tag]: the complete banana item for the tag string, e.g. "list" is 04 82 6c 69 73 74 or 08 87.
    private static readonly byte[][][] s_encoded = [Build(BananaDialect.None), Build(BananaDialect.Pb)];

    // VOCAB index -> tag (0 where the word is not a jelly tag; Refused for the legacy atoms).
    private static readonly JellyTag[] s_byVocab = BuildVocabMap();

    public static string Name(JellyTag tag) => s_names[(int)tag];

    public static ReadOnlySpan<byte> Encoded(JellyTag tag, BananaDialect dialect) => s_encoded[(int)dialect][(int)tag];

    private static byte[][] Build(BananaDialect dialect)
    {
        var result = new byte[(int)JellyTag.Count][];
        for (int i = 1; i < s_names.Length; i++)
        {
            if (s_names[i].Length == 0)
            {
                result[i] = [];
                continue;
            }
            var buffer = new ArrayBufferWriter<byte>(16);
            var writer = new BananaWriter(buffer, dialect);
            writer.WriteBytes(Encoding.ASCII.GetBytes(s_names[i]));
            writer.Flush();
            result[i] = buffer.WrittenSpan.ToArray();
        }
        result[0] = [];
        return result;
    }

    private static JellyTag[] BuildVocabMap()
    {
        var map = new JellyTag[BananaVocabulary.MaxIndex + 1];
        for (int i = 1; i <= BananaVocabulary.MaxIndex; i++)
        {
            BananaVocabulary.TryGetWord(i, out ReadOnlySpan<byte> word);
            map[i] = ClassifyPlain(word);
            if (map[i] == JellyTag.Unknown && BananaVocabulary.GetWordText(i) is "class" or "function" or "instance" or "module")
            {
                map[i] = JellyTag.Refused;
            }
        }
        return map;
    }

    /// <summary>Classifies a tag token without allocating (unless its bytes span segments, which is rare).</summary>
    public static JellyTag Classify(in BananaToken token, out ReadOnlySpan<byte> name)
    {
        if (!token.TryGetSpan(out name))
        {
            name = token.ToArray();
        }
        if (token.VocabIndex != 0)
        {
            return s_byVocab[token.VocabIndex];
        }
        if (name.Length == 7 && name.SequenceEqual("unicode"u8))
        {
            return JellyTag.Unicode; // the commonest tag of all (every text value) and not a vocabulary word
        }
        int vocab = BananaVocabulary.IndexOf(name);
        return vocab != 0 ? s_byVocab[vocab] : ClassifyPlain(name);
    }

    private static JellyTag ClassifyPlain(ReadOnlySpan<byte> name) => name.Length switch
    {
        3 when name.SequenceEqual("set"u8) => JellyTag.Set,
        4 when name.SequenceEqual("None"u8) => JellyTag.None,
        4 when name.SequenceEqual("list"u8) => JellyTag.List,
        4 when name.SequenceEqual("date"u8) => JellyTag.Date,
        4 when name.SequenceEqual("time"u8) => JellyTag.Time,
        5 when name.SequenceEqual("tuple"u8) => JellyTag.Tuple,
        5 when name.SequenceEqual("local"u8) => JellyTag.Local,
        6 when name.SequenceEqual("remote"u8) => JellyTag.Remote,
        6 when name.SequenceEqual("cached"u8) => JellyTag.Cached,
        6 when name.SequenceEqual("lcache"u8) => JellyTag.Lcache,
        6 when name.SequenceEqual("method"u8) => JellyTag.Refused,
        7 when name.SequenceEqual("unicode"u8) => JellyTag.Unicode,
        7 when name.SequenceEqual("boolean"u8) => JellyTag.Boolean,
        7 when name.SequenceEqual("decimal"u8) => JellyTag.Decimal,
        8 when name.SequenceEqual("datetime"u8) => JellyTag.DateTime,
        9 when name.SequenceEqual("frozenset"u8) => JellyTag.FrozenSet,
        9 when name.SequenceEqual("reference"u8) => JellyTag.Reference,
        9 when name.SequenceEqual("timedelta"u8) => JellyTag.TimeDelta,
        10 when name.SequenceEqual("dictionary"u8) => JellyTag.Dictionary,
        10 when name.SequenceEqual("persistent"u8) => JellyTag.Persistent,
        11 when name.SequenceEqual("dereference"u8) => JellyTag.Dereference,
        13 when name.SequenceEqual("unpersistable"u8) => JellyTag.Unpersistable,
        _ => JellyTag.Unknown,
    };
}
