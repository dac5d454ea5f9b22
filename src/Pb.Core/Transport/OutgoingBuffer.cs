using System.Buffers;

namespace Pb;

/// <summary>A growable buffer from the shared array pool that can be cut back (to drop a message that failed to serialize).</summary>
internal sealed class OutgoingBuffer : IBufferWriter<byte>, IDisposable
{
    private const int MinimumSize = 4096;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(MinimumSize);
    private int _written;

    public int WrittenCount => _written;

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public void Truncate(int length) => _written = Math.Min(_written, length);

    /// <summary>Empties the buffer; a large one goes back to the pool so one big message does not pin memory.</summary>
    public void Reset()
    {
        _written = 0;
        if (_buffer.Length > 1024 * 1024)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(MinimumSize);
        }
    }

    private void Ensure(int sizeHint)
    {
        int needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= needed)
        {
            return;
        }
        byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + needed));
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _written = 0;
    }
}
