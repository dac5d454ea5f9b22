using System.Buffers;
using System.Numerics;
using MessagePack;
using Pb.Banana;

namespace Pb.AspNetCore;

/// <summary>
/// The <c>pb.msgpack</c> WebSocket sub-protocol: the same s-expressions as banana (jelly trees, PB messages), written as
/// MessagePack. Each WebSocket message holds one or more whole MessagePack values, each a top-level banana item (a PB
/// message, or a dialect name during negotiation); a value never spans two messages.
/// </summary>
/// <remarks>
/// <para>The mapping, both ways:</para>
/// <list type="table">
/// <item><term>banana LIST of n items</term><description>MessagePack array of n values
/// (<c>["version", 6]</c> is <c>92 A7 76 65 72 73 69 6F 6E 06</c>).</description></item>
/// <item><term>INT, NEG, LONGINT, LONGNEG in [-2**63, 2**64)</term><description>MessagePack integer, shortest form.</description></item>
/// <item><term>larger integers (banana goes to 2**448)</term><description>extension type 1, the two's complement
/// big-endian bytes.</description></item>
/// <item><term>FLOAT</term><description>float 64 (a float 32 is read and widened).</description></item>
/// <item><term>STRING, and VOCAB words spelled out</term><description>str when the bytes are valid UTF-8 (every tag,
/// every unicode value), bin otherwise; both read back as the same bytes.</description></item>
/// </list>
/// <para>nil, booleans, maps and other extension types do not occur in PB: a message holding one closes the
/// connection, as does one past <see cref="BananaLimits"/> (item length, nesting depth).</para>
/// </remarks>
public sealed class PbMessagePackTranscoder : IBananaTranscoder
{
    /// <summary>The sub-protocol name.</summary>
    public const string Name = "pb.msgpack";

    /// <summary>The MessagePack extension type of an integer outside [-2**63, 2**64).</summary>
    public const sbyte BigIntegerExtension = 1;

    // 2**448 (banana's largest LONGINT) needs 57 bytes of two's complement.
    private const int MaxBigIntegerBytes = 64;

    // Our own outgoing bytes were checked when they were written; reading them back needs no second set of limits.
    private static readonly BananaLimits Unlimited = new() { MaxItemLength = int.MaxValue, MaxDepth = 100_000, MaxMessageSize = long.MaxValue };

    /// <summary>The one instance (the transcoder keeps no state).</summary>
    public static PbMessagePackTranscoder Instance { get; } = new();

    private PbMessagePackTranscoder()
    {
    }

    /// <inheritdoc />
    public string SubProtocol => Name;

    /// <inheritdoc />
    public void Encode(in ReadOnlySequence<byte> banana, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var reader = new BananaReader(banana, BananaDialect.Pb, Unlimited);
        var writer = new MessagePackWriter(output);
        while (!reader.End)
        {
            if (!reader.TryReadToken(out BananaToken token))
            {
                throw new BananaException("pb.msgpack: the outgoing batch ends inside a banana item.");
            }
            switch (token.Kind)
            {
                case BananaTokenKind.List:
                    writer.WriteArrayHeader(token.Count);
                    break;
                case BananaTokenKind.Integer when !token.IsBigInteger:
                    writer.Write(token.Int64);
                    break;
                case BananaTokenKind.Integer:
                    WriteBigInteger(ref writer, token.BigInteger);
                    break;
                case BananaTokenKind.Float:
                    writer.Write(token.Float);
                    break;
                default:
                    if (token.TryGetSpan(out ReadOnlySpan<byte> bytes))
                    {
                        WriteBytes(ref writer, bytes);
                    }
                    else
                    {
                        WriteBytes(ref writer, token.ToArray());
                    }
                    break;
            }
        }
        writer.Flush();
    }

    private static void WriteBytes(ref MessagePackWriter writer, ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes))
        {
            writer.WriteString(bytes);
        }
        else
        {
            writer.Write(bytes);
        }
    }

    private static void WriteBigInteger(ref MessagePackWriter writer, BigInteger value)
    {
        if (value >= ulong.MinValue && value <= ulong.MaxValue)
        {
            writer.Write((ulong)value);
            return;
        }
        writer.WriteExtensionFormat(new ExtensionResult(BigIntegerExtension, value.ToByteArray(isUnsigned: false, isBigEndian: true)));
    }

    /// <inheritdoc />
    public void Decode(in ReadOnlySequence<byte> message, IBufferWriter<byte> banana, BananaLimits limits)
    {
        ArgumentNullException.ThrowIfNull(banana);
        ArgumentNullException.ThrowIfNull(limits);
        var reader = new MessagePackReader(message);
        var writer = new BananaWriter(banana, BananaDialect.None, limits);
        int maxItemLength = limits.MaxItemLength;
        // Lists still open and how many items each still needs: an explicit stack, capped at MaxDepth.
        Span<int> remaining = limits.MaxDepth <= 1024 ? stackalloc int[limits.MaxDepth] : new int[limits.MaxDepth];
        int depth = 0;
        long length = message.Length;
        Span<byte> digits = stackalloc byte[MaxBigIntegerBytes];
        try
        {
            while (!reader.End || depth > 0)
            {
                if (reader.End)
                {
                    throw new BananaException("pb.msgpack: the message ends inside an array.");
                }
                switch (reader.NextMessagePackType)
                {
                    case MessagePackType.Array:
                        int count = reader.ReadArrayHeader();
                        if (count > maxItemLength)
                        {
                            throw new BananaException($"Security precaution: a pb.msgpack array of {count} items is longer than {maxItemLength} (BananaLimits.MaxItemLength).");
                        }
                        // Each item takes at least one byte: check the count against what is left before trusting it.
                        if (count > length - reader.Consumed)
                        {
                            throw new BananaException($"pb.msgpack: an array of {count} items in {length - reader.Consumed} bytes.");
                        }
                        writer.WriteListHeader(count);
                        if (count > 0)
                        {
                            if (depth == remaining.Length)
                            {
                                throw TooDeep(limits.MaxDepth);
                            }
                            remaining[depth++] = count;
                            continue;
                        }
                        break;
                    case MessagePackType.Integer:
                        if (reader.NextCode == MessagePackCode.UInt64)
                        {
                            ulong unsigned = reader.ReadUInt64();
                            if (unsigned > long.MaxValue)
                            {
                                writer.WriteInt(new BigInteger(unsigned));
                                break;
                            }
                            writer.WriteInt((long)unsigned);
                            break;
                        }
                        writer.WriteInt(reader.ReadInt64());
                        break;
                    case MessagePackType.Float:
                        writer.WriteFloat(reader.ReadDouble());
                        break;
                    case MessagePackType.String:
                        if (reader.TryReadStringSpan(out ReadOnlySpan<byte> text))
                        {
                            if (text.Length > maxItemLength)
                            {
                                throw StringTooLong(text.Length, maxItemLength);
                            }
                            writer.WriteBytes(text);
                            break;
                        }
                        WriteString(ref writer, reader.ReadStringSequence(), maxItemLength);
                        break;
                    case MessagePackType.Binary:
                        WriteString(ref writer, reader.ReadBytes(), maxItemLength);
                        break;
                    case MessagePackType.Extension:
                        ExtensionHeader header = reader.ReadExtensionFormatHeader();
                        if (header.TypeCode != BigIntegerExtension || header.Length is 0 or > MaxBigIntegerBytes)
                        {
                            throw new BananaException($"pb.msgpack: extension type {header.TypeCode} of {header.Length} bytes is not a PB value.");
                        }
                        ReadOnlySequence<byte> raw = reader.ReadRaw(header.Length);
                        raw.CopyTo(digits);
                        writer.WriteInt(new BigInteger(digits[..(int)header.Length], isUnsigned: false, isBigEndian: true));
                        break;
                    default:
                        throw new BananaException($"pb.msgpack: a MessagePack {reader.NextMessagePackType} is not a PB value (only arrays, integers, floats, strings and binaries are).");
                }
                // An atom or empty array fills one slot of the innermost open array; full arrays close in turn.
                while (depth > 0 && --remaining[depth - 1] == 0)
                {
                    depth--;
                }
            }
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException)
        {
            throw new BananaException($"pb.msgpack: malformed message ({e.Message})", e);
        }
        writer.Flush();
    }

    private static void WriteString(ref BananaWriter writer, ReadOnlySequence<byte>? bytes, int maxItemLength)
    {
        if (bytes is not { } value)
        {
            throw new BananaException("pb.msgpack: nil is not a PB value.");
        }
        if (value.Length > maxItemLength)
        {
            throw StringTooLong(value.Length, maxItemLength);
        }
        if (value.IsSingleSegment)
        {
            writer.WriteBytes(value.FirstSpan);
            return;
        }
        writer.WriteBytes(value);
    }

    private static BananaException StringTooLong(long length, int max) =>
        new($"Security precaution: a pb.msgpack string of {length} bytes is longer than {max} (BananaLimits.MaxItemLength).");

    private static BananaException TooDeep(int maxDepth) =>
        new($"Security precaution: pb.msgpack arrays nested deeper than {maxDepth} (BananaLimits.MaxDepth).");
}
