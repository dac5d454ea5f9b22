using System.Buffers;

namespace Pb.Banana;

/// <summary>
/// Another wire encoding of banana's s-expressions, for a WebSocket sub-protocol beside <c>pb.banana</c> (Pb.AspNetCore's
/// <c>pb.msgpack</c> is one). The broker keeps speaking banana; the WebSocket transport turns each outgoing batch of
/// banana items into one message of this encoding and each incoming message back into banana items, so every
/// limit of <see cref="BananaLimits"/> still applies to what reaches the broker.
/// </summary>
public interface IBananaTranscoder
{
    /// <summary>The WebSocket sub-protocol name, for example <c>pb.msgpack</c>.</summary>
    string SubProtocol { get; }

    /// <summary>
    /// Writes the complete banana items of <paramref name="banana"/> (our own output, in the <see cref="BananaDialect.Pb"/>
    /// dialect or a subset of it) as one message of this encoding.
    /// </summary>
    void Encode(in ReadOnlySequence<byte> banana, IBufferWriter<byte> output);

    /// <summary>
    /// Writes the values of one received message as banana items (in the <see cref="BananaDialect.None"/> subset, which
    /// both dialects read). Throws <see cref="BananaException"/> for malformed input or input past <paramref name="limits"/>.
    /// </summary>
    void Decode(in ReadOnlySequence<byte> message, IBufferWriter<byte> banana, BananaLimits limits);
}
