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
        // Walk the segments from where the last call stopped. Most tokens are decoded by the tight loop in
        // ScanSpan; a token near a segment's end, one with an unusual header, or one in error is handed to
        // BananaReader.TrySkipToken, which has the full validation and the exact error messages.
        long pos = _scanned;
        long length = buffer.Length;
        long maxMessageSize = Limits.MaxMessageSize;
        long segmentStart = 0;
        SequencePosition next = buffer.Start;
        while (buffer.TryGet(ref next, out ReadOnlyMemory<byte> memory))
        {
            long segmentEnd = segmentStart + memory.Length;
            while (pos < segmentEnd)
            {
                ReadOnlySpan<byte> span = memory.Span;
                int i = (int)(pos - segmentStart);
                ScanResult result = ScanSpan(span, ref i, out long jump);
                pos = segmentStart + i;
                if (result == ScanResult.Complete)
                {
                    return Cut(ref buffer, pos, out item);
                }
                if (result == ScanResult.Jump)
                {
                    // An atom whose payload runs past this segment (pos is its start): complete once its bytes are there.
                    if (pos + jump > length)
                    {
                        return Incomplete(pos, length, out item);
                    }
                    pos += jump;
                    if (CompleteAtom())
                    {
                        return Cut(ref buffer, pos, out item);
                    }
                }
                else if (result == ScanResult.Slow)
                {
                    var reader = new BananaReader(buffer.Slice(pos), Dialect, Limits);
                    if (!reader.TrySkipToken(out BananaTokenKind kind, out int count))
                    {
                        return Incomplete(pos, length, out item);
                    }
                    pos += reader.Consumed;
                    if (kind == BananaTokenKind.List && count > 0)
                    {
                        Push(count);
                    }
                    else if (CompleteAtom())
                    {
                        return Cut(ref buffer, pos, out item);
                    }
                }
                if (pos > maxMessageSize)
                {
                    throw MessageTooLarge(maxMessageSize);
                }
            }
            segmentStart = segmentEnd;
        }
        return Incomplete(pos, length, out item);
    }

    private enum ScanResult
    {
        EndOfSpan,
        Complete,
        Jump,
        Slow,
    }

    /// <summary>
    /// Decodes the common tokens (headers of up to 8 digits, the header and type byte within the span) until the item
    /// completes, the span ends, an atom's payload runs past it (<see cref="ScanResult.Jump"/>, <paramref name="i"/> at the
    /// atom's start and <paramref name="jump"/> its whole length), or a token needs the careful path
    /// (<see cref="ScanResult.Slow"/>, <paramref name="i"/> at its start).
    /// </summary>
    private ScanResult ScanSpan(ReadOnlySpan<byte> span, ref int i, out long jump)
    {
        jump = 0;
        int maxItemLength = Limits.MaxItemLength;
        bool pbDialect = Dialect == BananaDialect.Pb;
        while (true)
        {
            int start = i;
            if (start >= span.Length)
            {
                return ScanResult.EndOfSpan;
            }
            ulong value = 0;
            int shift = 0;
            int h = start;
            byte b = span[h];
            while (b < 0x80)
            {
                if (shift == 56 || ++h >= span.Length)
                {
                    return ScanResult.Slow; // a long header, or one that straddles segments
                }
                value |= (ulong)b << shift;
                shift += 7;
                b = span[h];
            }
            int payload = h + 1;
            switch (b)
            {
                case BananaTypeByte.List when value <= (ulong)maxItemLength:
                    i = payload;
                    if (value > 0)
                    {
                        Push((int)value);
                        continue;
                    }
                    break;
                case BananaTypeByte.Int or BananaTypeByte.Neg or BananaTypeByte.LongInt or BananaTypeByte.LongNeg:
                    i = payload;
                    break;
                case BananaTypeByte.Vocab when pbDialect && value is >= 1 and <= BananaVocabulary.MaxIndex:
                    i = payload;
                    break;
                case BananaTypeByte.String when value <= (ulong)maxItemLength:
                    if ((long)payload + (long)value > span.Length)
                    {
                        jump = payload - start + (long)value;
                        return ScanResult.Jump;
                    }
                    i = payload + (int)value;
                    break;
                case BananaTypeByte.Float:
                    if (payload + 8 > span.Length)
                    {
                        jump = payload - start + 8;
                        return ScanResult.Jump;
                    }
                    i = payload + 8;
                    break;
                default:
                    return ScanResult.Slow; // an error or a rare case: TrySkipToken says which
            }
            if (CompleteAtom())
            {
                return ScanResult.Complete;
            }
        }
    }

    private void Push(int count)
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
    }

    /// <summary>A completed item (atom or empty list) fills one slot; full lists complete in turn. True when the top-level item is done.</summary>
    private bool CompleteAtom()
    {
        while (_depth > 0 && --_remaining[_depth - 1] == 0)
        {
            _depth--;
        }
        return _depth == 0;
    }

    private bool Cut(ref ReadOnlySequence<byte> buffer, long end, out ReadOnlySequence<byte> item)
    {
        if (end > Limits.MaxMessageSize)
        {
            throw MessageTooLarge(Limits.MaxMessageSize);
        }
        item = buffer.Slice(0, end);
        buffer = buffer.Slice(end);
        _scanned = 0;
        return true;
    }

    private bool Incomplete(long validated, long length, out ReadOnlySequence<byte> item)
    {
        _scanned = validated;
        if (length > Limits.MaxMessageSize)
        {
            throw MessageTooLarge(Limits.MaxMessageSize);
        }
        item = default;
        return false;
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
