using System.Buffers;

namespace Pb.Banana;

/// <summary>
/// Splits a banana byte stream into complete top-level items, one connection's worth of state. Feed it the
/// unconsumed bytes each time more arrive: <see cref="TryParseItem"/> returns false (consuming nothing) until
/// an item is complete, and any split of the bytes works, down to one byte at a time.
/// </summary>
/// <remarks>
/// The parser validates as it scans (type bytes, header length, per-item size, VOCAB indexes, nesting depth,
/// total size), so a malformed item fails at its first bad byte and nothing is allocated for bytes that have
/// not arrived. It remembers how far it validated the pending item, so a large item arriving in many reads is
/// scanned once, not once per read. That requires the caller to hand back the same unconsumed bytes plus
/// new ones, which is what <c>System.IO.Pipelines</c> does with <c>AdvanceTo(consumed, examined)</c>.
/// Not thread-safe: one parser per connection.
/// </remarks>
public sealed class BananaParser
{
    private int[] _remaining = new int[16];
    private int _depth;
    private long _scanned;

    /// <summary>Creates a parser.</summary>
    public BananaParser(BananaDialect dialect = BananaDialect.None, BananaLimits? limits = null)
    {
        Dialect = dialect;
        Limits = limits ?? BananaLimits.Default;
    }

    /// <summary>The dialect. Switch it between items (after negotiation), never inside one.</summary>
    public BananaDialect Dialect { get; set; }

    /// <summary>The limits in force.</summary>
    public BananaLimits Limits { get; }

    /// <summary>Forgets a partially scanned item (use when the buffer it came from is thrown away).</summary>
    public void Reset()
    {
        _depth = 0;
        _scanned = 0;
    }

    /// <summary>
    /// Looks for one complete top-level item at the start of <paramref name="buffer"/>. On success, slices it
    /// off <paramref name="buffer"/> and returns its bytes in <paramref name="item"/>; otherwise returns false
    /// and leaves <paramref name="buffer"/> as it was.
    /// </summary>
    /// <exception cref="BananaException">The bytes are malformed or exceed a limit.</exception>
    public bool TryParseItem(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> item)
    {
        var reader = new BananaReader(buffer, Dialect, Limits);
        if (_scanned > 0)
        {
            reader.Advance(_scanned);
        }
        long maxMessageSize = Limits.MaxMessageSize;
        while (true)
        {
            if (!reader.TrySkipToken(out BananaTokenKind kind, out int count))
            {
                _scanned = reader.Consumed;
                if (buffer.Length > maxMessageSize)
                {
                    throw MessageTooLarge(maxMessageSize);
                }
                item = default;
                return false;
            }
            if (reader.Consumed > maxMessageSize)
            {
                throw MessageTooLarge(maxMessageSize);
            }
            if (kind == BananaTokenKind.List && count > 0)
            {
                if (_depth >= Limits.MaxDepth)
                {
                    throw BananaReader.DepthExceeded(Limits.MaxDepth);
                }
                if (_depth == _remaining.Length)
                {
                    Array.Resize(ref _remaining, Math.Min(_remaining.Length * 2, Limits.MaxDepth));
                }
                _remaining[_depth++] = count;
                continue;
            }
            // A completed item (atom or empty list) fills one slot; full lists complete in turn.
            while (_depth > 0 && --_remaining[_depth - 1] == 0)
            {
                _depth--;
            }
            if (_depth == 0)
            {
                SequencePosition end = reader.Position;
                item = buffer.Slice(0, end);
                buffer = buffer.Slice(end);
                _scanned = 0;
                return true;
            }
        }
    }

    /// <summary>
    /// Like <see cref="TryParseItem"/>, then decodes the item as a tree (see <see cref="BananaReader.TryReadTree"/>).
    /// </summary>
    public bool TryParse(ref ReadOnlySequence<byte> buffer, out object? value)
    {
        if (!TryParseItem(ref buffer, out ReadOnlySequence<byte> item))
        {
            value = null;
            return false;
        }
        var reader = new BananaReader(item, Dialect, Limits);
        reader.TryReadTree(out value);
        return true;
    }

    private static BananaException MessageTooLarge(long max) =>
        new($"Security precaution: a banana expression larger than {max} bytes (the limit is set by BananaLimits.MaxMessageSize).");
}
