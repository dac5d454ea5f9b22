using System.Buffers;

namespace Pb.Core.Tests.Transport;

/// <summary>The pool behind the WebSocket pipes: arrays come back for reuse, a lease ends once, sizes are honoured.</summary>
public sealed class SegmentPoolTests
{
    [Fact]
    public void A_returned_segment_is_handed_out_again_instead_of_a_new_array()
    {
        var pool = new SegmentPool(); // its own: the tests beside this one use the shared instance
        IMemoryOwner<byte> first = pool.Rent(4096);
        byte[] array = System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(first.Memory, out ArraySegment<byte> segment) ? segment.Array! : [];
        first.Dispose();
        using IMemoryOwner<byte> second = pool.Rent(4096);
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(second.Memory, out ArraySegment<byte> again));
        Assert.Same(array, again.Array);
    }

    [Fact]
    public void Many_segments_held_at_once_all_come_back_to_the_pool()
    {
        // a broadcast wakes a thousand connections: each holds a segment at the same time, then returns it
        var pool = new SegmentPool();
        IMemoryOwner<byte>[] held = [.. Enumerable.Range(0, 1000).Select(_ => pool.Rent(4096))];
        var arrays = held.Select(h => System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(h.Memory, out ArraySegment<byte> s) ? s.Array! : null).ToHashSet();
        foreach (IMemoryOwner<byte> lease in held)
        {
            lease.Dispose();
        }
        IMemoryOwner<byte>[] again = [.. Enumerable.Range(0, 1000).Select(_ => pool.Rent(4096))];
        int reused = again.Count(h => System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(h.Memory, out ArraySegment<byte> s) && arrays.Contains(s.Array));
        foreach (IMemoryOwner<byte> lease in again)
        {
            lease.Dispose();
        }
        Assert.Equal(1000, reused); // ArrayPool<byte>.Shared keeps a few dozen per size and core: most would be new
    }

    [Fact]
    public void A_lease_ends_once_and_is_unusable_after()
    {
        IMemoryOwner<byte> lease = SegmentPool.Instance.Rent(100);
        Assert.True(lease.Memory.Length >= 100);
        lease.Dispose();
        lease.Dispose(); // the second changes nothing (no array returned twice)
        Assert.Throws<ObjectDisposedException>(() => lease.Memory);
        Assert.Equal(64 * 1024, SegmentPool.Instance.MaxBufferSize);
    }
}
