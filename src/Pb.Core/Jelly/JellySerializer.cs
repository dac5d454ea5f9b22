using System.Buffers;
using Pb.Banana;

namespace Pb.Jelly;

/// <summary>
/// One-call jelly+banana for values outside a PB connection (files, tests, tools). A connection keeps its own
/// <see cref="Jellier"/>, <see cref="Unjellier"/> and <see cref="BananaParser"/> instead.
/// </summary>
public static class JellySerializer
{
    /// <summary>Jellies <paramref name="value"/> and returns the banana bytes.</summary>
    public static byte[] Serialize(object? value, BananaDialect dialect = BananaDialect.Pb, JellyOptions? options = null, BananaLimits? limits = null)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Serialize(buffer, value, dialect, options, limits);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Jellies <paramref name="value"/> into <paramref name="output"/>.</summary>
    public static void Serialize(IBufferWriter<byte> output, object? value, BananaDialect dialect = BananaDialect.Pb, JellyOptions? options = null, BananaLimits? limits = null)
    {
        var writer = new BananaWriter(output, dialect, limits);
        new Jellier(options).Jelly(ref writer, value);
        writer.Flush();
    }

    /// <summary>
    /// Reads exactly one jelly expression from <paramref name="data"/>, checking every banana limit first.
    /// </summary>
    /// <exception cref="BananaException">Malformed or over-limit bytes.</exception>
    /// <exception cref="JellyException">Incomplete input, trailing bytes, or a malformed or refused jelly tree.</exception>
    public static object? Deserialize(ReadOnlySequence<byte> data, BananaDialect dialect = BananaDialect.Pb, JellyOptions? options = null, BananaLimits? limits = null)
    {
        // The bytes are all here, so one validating pass is enough: the reader checks every item limit and the
        // unjellier the depth. (A connection first waits for a complete item with BananaParser.)
        limits ??= BananaLimits.Default;
        if (data.Length > limits.MaxMessageSize)
        {
            throw new BananaException($"Security precaution: a banana expression larger than {limits.MaxMessageSize} bytes (the limit is set by BananaLimits.MaxMessageSize).");
        }
        var reader = new BananaReader(data, dialect, limits);
        object? value = new Unjellier(options).Unjelly(ref reader);
        if (!reader.End)
        {
            throw new JellyException($"{reader.Remaining} bytes follow the jelly expression.");
        }
        return value;
    }

    /// <inheritdoc cref="Deserialize(ReadOnlySequence{byte}, BananaDialect, JellyOptions?, BananaLimits?)"/>
    public static object? Deserialize(ReadOnlyMemory<byte> data, BananaDialect dialect = BananaDialect.Pb, JellyOptions? options = null, BananaLimits? limits = null) =>
        Deserialize(new ReadOnlySequence<byte>(data), dialect, options, limits);
}
