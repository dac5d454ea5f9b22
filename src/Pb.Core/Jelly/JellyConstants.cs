using System.Buffers;
using Pb.Banana;

namespace Pb.Jelly;

/// <summary>Whole items and item prefixes that jelly writes often, pre-encoded for each dialect.</summary>
internal sealed class JellyConstants
{
    private static readonly JellyConstants[] s_byDialect = [new(BananaDialect.None), new(BananaDialect.Pb)];

    public static JellyConstants For(BananaDialect dialect) => s_byDialect[(int)dialect];

    private JellyConstants(BananaDialect dialect)
    {
        None = Build(dialect, JellyTag.None, 1, default);
        True = Build(dialect, JellyTag.Boolean, 2, "true"u8);
        False = Build(dialect, JellyTag.Boolean, 2, "false"u8);
        UnicodePrefix = Build(dialect, JellyTag.Unicode, 2, default);
    }

    /// <summary><c>["None"]</c>.</summary>
    public byte[] None { get; }

    /// <summary><c>["boolean", "true"]</c>.</summary>
    public byte[] True { get; }

    /// <summary><c>["boolean", "false"]</c>.</summary>
    public byte[] False { get; }

    /// <summary><c>02 80</c> and the <c>unicode</c> tag: the UTF-8 bytes follow.</summary>
    public byte[] UnicodePrefix { get; }

    private static byte[] Build(BananaDialect dialect, JellyTag tag, int count, ReadOnlySpan<byte> payload)
    {
        var buffer = new ArrayBufferWriter<byte>(32);
        var writer = new BananaWriter(buffer, dialect);
        writer.WriteListHeader(count);
        writer.WriteRaw(JellyTags.Encoded(tag, dialect));
        if (!payload.IsEmpty)
        {
            writer.WriteBytes(payload);
        }
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }
}
