using System.Buffers.Text;
using System.Text;
using StackExchange.Redis;

namespace Pb.Redis;

/// <summary>One change as it crosses Redis: sequence number, change name, jellied arguments, when it was submitted.</summary>
internal readonly record struct Change(string Epoch, long Sequence, string Name, ReadOnlyMemory<byte> Arguments, long SubmittedUnixMs);

/// <summary>
/// The wire format of what crosses Redis, written by the scripts (<see cref="RedisScripts"/>) and read here. A published
/// change is one binary message: an ASCII header <c>epoch seq submittedUnixMs change</c>, a newline, then the
/// arguments as jelly in banana (pb dialect), e.g. <c>"3f2a... 42 1733333333333 post\n" + banana</c>. Change names are
/// identifiers (<see cref="RedisKeys.CheckName"/>'s alphabet), so neither a space nor a newline can occur in them.
/// </summary>
internal static class RedisProtocol
{
    /// <summary>Reads a published change; false for anything malformed (which the replica then ignores and repairs from the log).</summary>
    public static bool TryReadMessage(RedisValue value, out Change change)
    {
        change = default;
        byte[]? bytes = value;
        if (bytes is null)
        {
            return false;
        }
        int newline = Array.IndexOf(bytes, (byte)'\n');
        if (newline < 0 || newline > 512)
        {
            return false;
        }
        // epoch ' ' seq ' ' submitted ' ' change, read in place (only the epoch and the change name become strings)
        ReadOnlySpan<byte> header = bytes.AsSpan(0, newline);
        int first = header.IndexOf((byte)' ');
        ReadOnlySpan<byte> rest = first < 0 ? default : header[(first + 1)..];
        if (first <= 0 || !Utf8Parser.TryParse(rest, out long sequence, out int used) || used >= rest.Length || rest[used] != (byte)' ')
        {
            return false;
        }
        rest = rest[(used + 1)..];
        if (!Utf8Parser.TryParse(rest, out long submitted, out used) || used >= rest.Length - 1 || rest[used] != (byte)' ')
        {
            return false;
        }
        ReadOnlySpan<byte> name = rest[(used + 1)..];
        if (name.Contains((byte)' '))
        {
            return false;
        }
        change = new Change(Encoding.ASCII.GetString(header[..first]), sequence, Encoding.ASCII.GetString(name), bytes.AsMemory(newline + 1), submitted);
        return true;
    }

    /// <summary>Reads a log entry (id <c>seq-0</c>, fields c, a, t); false for anything malformed.</summary>
    public static bool TryReadEntry(StreamEntry entry, string epoch, out Change change)
    {
        change = default;
        string? id = entry.Id;
        int dash = id?.IndexOf('-') ?? -1;
        if (dash <= 0 || !long.TryParse(id.AsSpan(0, dash), out long sequence))
        {
            return false;
        }
        string? name = entry["c"];
        byte[]? arguments = entry["a"];
        if (name is null || arguments is null || !long.TryParse((string?)entry["t"], out long submitted))
        {
            return false;
        }
        change = new Change(epoch, sequence, name, arguments, submitted);
        return true;
    }

    /// <summary>The sequence number of a log entry id (<c>seq-0</c>), or -1.</summary>
    public static long SequenceOf(RedisValue id)
    {
        string? text = id;
        int dash = text?.IndexOf('-') ?? -1;
        return dash > 0 && long.TryParse(text.AsSpan(0, dash), out long sequence) ? sequence : -1;
    }

    /// <summary>A log entry id for range queries: <c>seq-0</c>.</summary>
    public static RedisValue EntryId(long sequence) => $"{sequence}-0";
}

/// <summary>The Lua scripts that make every step on one object atomic (each touches only that object's keys).</summary>
internal static class RedisScripts
{
    /// <summary>
    /// Sequences one change: KEYS epoch, seq, log; ARGV change, arguments, submittedUnixMs, logLength, expectedSeq (-1:
    /// any), channel. Answers {epoch, seq}; {"", -2} when the object has no epoch (Redis lost its data: seed first);
    /// {epoch, -1, seq} when expectedSeq is not the last sequence number (compare-and-set refused). The log entry is
    /// written first, so a failure leaves the sequence untouched.
    /// </summary>
    public const string Submit = """
        local epoch = redis.call('GET', KEYS[1])
        if not epoch then return {'', -2} end
        local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
        local expected = tonumber(ARGV[5])
        if expected >= 0 and seq ~= expected then return {epoch, -1, seq} end
        seq = seq + 1
        redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[4], seq .. '-0', 'c', ARGV[1], 'a', ARGV[2], 't', ARGV[3])
        redis.call('SET', KEYS[2], seq)
        redis.call('PUBLISH', ARGV[6], epoch .. ' ' .. seq .. ' ' .. ARGV[3] .. ' ' .. ARGV[1] .. '\n' .. ARGV[2])
        return {epoch, seq}
        """;

    /// <summary>
    /// Starts an object's history when it has none (a new object, or Redis restarted without its data): KEYS epoch,
    /// seq, log, snap; ARGV newEpoch, seq, state. The first node to ask wins; every node gets the epoch that holds.
    /// </summary>
    public const string Seed = """
        local epoch = redis.call('GET', KEYS[1])
        if epoch then return epoch end
        redis.call('DEL', KEYS[3])
        redis.call('SET', KEYS[2], ARGV[2])
        redis.call('HSET', KEYS[4], 's', ARGV[2], 'v', ARGV[3], 'e', ARGV[1])
        redis.call('SET', KEYS[1], ARGV[1])
        return ARGV[1]
        """;

    /// <summary>
    /// Keeps a newer snapshot: KEYS epoch, snap; ARGV epoch, seq, state. Ignored when the epoch moved on or the stored
    /// snapshot is as new.
    /// </summary>
    public const string Snapshot = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        local current = tonumber(redis.call('HGET', KEYS[2], 's') or '-1')
        if tonumber(ARGV[2]) <= current then return 0 end
        redis.call('HSET', KEYS[2], 's', ARGV[2], 'v', ARGV[3], 'e', ARGV[1])
        return 1
        """;

    /// <summary>The epoch, the last sequence number and the snapshot, read together: KEYS epoch, seq, snap. Answers {epoch|false, seq, snapSeq, snapState}.</summary>
    public const string Load = """
        local epoch = redis.call('GET', KEYS[1])
        local seq = redis.call('GET', KEYS[2]) or '0'
        local snap = redis.call('HMGET', KEYS[3], 's', 'v')
        return {epoch, seq, snap[1], snap[2]}
        """;

    /// <summary>The epoch and last sequence number: KEYS epoch, seq.</summary>
    public const string Head = """
        return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]) or '0'}
        """;
}
