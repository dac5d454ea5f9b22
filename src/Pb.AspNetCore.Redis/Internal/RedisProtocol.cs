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

    /// <summary>
    /// Reads a log entry as a script's XRANGE answers it (<c>[id, [field, value, ...]]</c>, id <c>seq-0</c>, fields c, a,
    /// t); false for anything malformed.
    /// </summary>
    public static bool TryReadEntry(RedisResult entry, string epoch, out Change change)
    {
        change = default;
        if (entry.Resp2Type != ResultType.Array || entry.Length != 2 || entry[1].Resp2Type != ResultType.Array)
        {
            return false;
        }
        long sequence = SequenceOf((string?)entry[0]);
        RedisResult fields = entry[1];
        string? name = null, submitted = null;
        byte[]? arguments = null;
        for (int i = 0; i + 1 < fields.Length; i += 2)
        {
            switch ((string?)fields[i])
            {
                case "c":
                    name = (string?)fields[i + 1];
                    break;
                case "a":
                    arguments = (byte[]?)fields[i + 1];
                    break;
                case "t":
                    submitted = (string?)fields[i + 1];
                    break;
            }
        }
        if (sequence < 0 || name is null || arguments is null || !long.TryParse(submitted, out long submittedUnixMs))
        {
            return false;
        }
        change = new Change(epoch, sequence, name, arguments, submittedUnixMs);
        return true;
    }

    /// <summary>The sequence number of a log entry id (<c>seq-0</c>), or -1.</summary>
    /// <summary>The sequence number of a log entry's id, whatever its fields hold; -1 when it has none.</summary>
    public static long SequenceOfEntry(RedisResult entry) =>
        entry.Resp2Type == ResultType.Array && entry.Length >= 1 && entry[0].Resp2Type == ResultType.BulkString ? SequenceOf((string?)entry[0]) : -1;

    public static long SequenceOf(string? id)
    {
        int dash = id?.IndexOf('-') ?? -1;
        return dash > 0 && long.TryParse(id.AsSpan(0, dash), out long sequence) ? sequence : -1;
    }
}

/// <summary>
/// The Lua scripts that make every step on one object atomic (each touches only that object's keys). The snapshot is a
/// hash: s (its sequence number), v (the jellied state), e (its epoch), i ("1" while it is the initial state that a node
/// which never loaded the object seeded, "0" otherwise).
/// </summary>
internal static class RedisScripts
{
    /// <summary>
    /// Sequences one change: KEYS epoch, seq, log, snap; ARGV change, arguments, submittedUnixMs, logLength, expectedSeq
    /// (-1: any), channel, expectedEpoch ("": any), the submitter's loaded epoch ("": it never loaded the object).
    /// Answers {epoch, seq}; {"", -2} when the object has no epoch (Redis lost its data: seed first); {epoch, -3} when the
    /// submitter loaded another history and Redis's is still only the initial state a node that never loaded the object
    /// seeded (seed first: the submitter's state replaces it, see <see cref="Seed"/>); {epoch, -1, seq} when expectedSeq
    /// is not the last sequence number or expectedEpoch not the epoch (compare-and-set refused). The log entry is written
    /// first, so a failure leaves the sequence untouched. The epoch and the sequence number are read with one MGET: each
    /// call out of a script costs Redis about 2.5 us on the 2-core machine, and this script runs once per change.
    /// </summary>
    public const string Submit = """
        local current = redis.call('MGET', KEYS[1], KEYS[2])
        local epoch = current[1]
        if not epoch then return {'', -2} end
        local seq = tonumber(current[2] or '0')
        if ARGV[8] and ARGV[8] ~= '' and ARGV[8] ~= epoch then
            local snap = redis.call('HMGET', KEYS[4], 's', 'i')
            if snap[2] == '1' and tonumber(snap[1]) == seq then return {epoch, -3} end
        end
        local expected = tonumber(ARGV[5])
        if expected >= 0 and (seq ~= expected or (ARGV[7] ~= '' and ARGV[7] ~= epoch)) then return {epoch, -1, seq} end
        seq = seq + 1
        redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[4], seq .. '-0', 'c', ARGV[1], 'a', ARGV[2], 't', ARGV[3])
        redis.call('SET', KEYS[2], seq)
        redis.call('PUBLISH', ARGV[6], epoch .. ' ' .. seq .. ' ' .. ARGV[3] .. ' ' .. ARGV[1] .. '\n' .. ARGV[2])
        return {epoch, seq}
        """;

    /// <summary>
    /// Starts an object's history when it has none (a new object, or Redis restarted without its data): KEYS epoch,
    /// seq, log, snap; ARGV newEpoch, seq, state, initial ("1": the initial state of a node that never loaded the
    /// object). The first node to ask wins, except that a node with loaded state replaces a history that is still only
    /// an initial state seeded by a node that never loaded (no change since): after Redis lost its data, a node that
    /// starts then must not erase the state the running nodes still hold. Every node gets the epoch that holds (followed by
    /// " replaced" when this call replaced such an initial state).
    /// </summary>
    public const string Seed = """
        local epoch = redis.call('GET', KEYS[1])
        if epoch then
            if ARGV[4] ~= '0' then return epoch end
            local snap = redis.call('HMGET', KEYS[4], 's', 'i')
            if snap[2] ~= '1' or (redis.call('GET', KEYS[2]) or '0') ~= snap[1] then return epoch end
        end
        redis.call('DEL', KEYS[3])
        redis.call('SET', KEYS[2], ARGV[2])
        redis.call('HSET', KEYS[4], 's', ARGV[2], 'v', ARGV[3], 'e', ARGV[1], 'i', ARGV[4])
        redis.call('SET', KEYS[1], ARGV[1])
        if epoch then return ARGV[1] .. ' replaced' end
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
        redis.call('HSET', KEYS[2], 's', ARGV[2], 'v', ARGV[3], 'e', ARGV[1], 'i', '0')
        return 1
        """;

    /// <summary>
    /// A Lua function the reading scripts share: <c>page(log, from, count, budget)</c> answers the log entries from sequence
    /// number <c>from</c> on, at most <c>count</c> of them and, past the first, at most <c>budget</c> bytes (ids, field names
    /// and values), and 1 when it stopped at the budget with entries left (0 otherwise). It reads the stream 64 entries at a
    /// time, so neither the answer nor the script's own memory holds more than the budget and one chunk.
    /// </summary>
    private const string PageFunction = """
        local function page(log, from, count, budget)
            local out, used, start = {}, 0, from .. '-0'
            while #out < count do
                local want = math.min(count - #out, 64)
                local chunk = redis.call('XRANGE', log, start, '+', 'COUNT', want)
                for _, e in ipairs(chunk) do
                    local size = #e[1]
                    for _, f in ipairs(e[2]) do size = size + #f end
                    if #out > 0 and used + size > budget then return out, 1 end
                    used = used + size
                    out[#out + 1] = e
                end
                if #chunk < want then break end
                start = '(' .. chunk[#chunk][1]
            end
            return out, 0
        end

        """;

    /// <summary>
    /// The epoch, the last sequence number, the snapshot and the first log entries after it, read together: KEYS epoch,
    /// seq, snap, log; ARGV count, budget (bytes, see <see cref="PageFunction"/>). Answers {epoch|false, seq, snapSeq,
    /// snapState, entries, cut}.
    /// </summary>
    public const string Load = PageFunction + """
        local epoch = redis.call('GET', KEYS[1])
        local seq = redis.call('GET', KEYS[2]) or '0'
        local snap = redis.call('HMGET', KEYS[3], 's', 'v')
        local entries, cut = {}, 0
        if epoch and snap[1] then
            entries, cut = page(KEYS[4], tonumber(snap[1]) + 1, tonumber(ARGV[1]), tonumber(ARGV[2]))
        end
        return {epoch, seq, snap[1], snap[2], entries, cut}
        """;

    /// <summary>
    /// Log entries from a sequence number with the epoch they belong to, read together: KEYS epoch, log; ARGV from, count,
    /// budget (bytes, see <see cref="PageFunction"/>). Answers {epoch|false, entries, cut}.
    /// </summary>
    public const string Range = PageFunction + """
        local entries, cut = page(KEYS[2], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
        return {redis.call('GET', KEYS[1]), entries, cut}
        """;

    /// <summary>
    /// The epoch, the last sequence number, and whether the history is still only an initial state seeded by a node
    /// that never loaded (see <see cref="Seed"/>): KEYS epoch, seq, snap. Answers {epoch|false, seq, replaceable (0|1)}.
    /// </summary>
    public const string Head = """
        local seq = redis.call('GET', KEYS[2]) or '0'
        local snap = redis.call('HMGET', KEYS[3], 's', 'i')
        return {redis.call('GET', KEYS[1]), seq, (snap[2] == '1' and snap[1] == seq) and 1 or 0}
        """;
}
