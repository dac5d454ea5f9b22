using System.Buffers;
using StackExchange.Redis;

namespace Pb.Redis;

/// <summary>
/// Every Redis name of one replicated object, in one place. The keys share the hash tag <c>{prefix:name}</c>, so the
/// scripts that touch them together also run on a Redis Cluster.
/// <list type="bullet">
/// <item><c>{prefix:name}:epoch</c>: a random id set when the object's history starts (again after Redis lost its data).</item>
/// <item><c>{prefix:name}:seq</c>: the last sequence number given.</item>
/// <item><c>{prefix:name}:log</c>: a Stream of the changes, entry id <c>seq-0</c>, fields <c>c</c> (change), <c>a</c> (arguments), <c>t</c> (submitted, Unix ms).</item>
/// <item><c>{prefix:name}:snap</c>: a Hash with the latest snapshot: <c>s</c> (its sequence number), <c>v</c> (the jellied state), <c>e</c> (its epoch), <c>i</c> (<c>1</c> while it is the initial state a node that never loaded the object seeded).</item>
/// <item>channel <c>prefix:name:changes</c>: every change as it is sequenced (<see cref="RedisProtocol"/>).</item>
/// </list>
/// </summary>
internal sealed class RedisKeys
{
    // checked for every change's name: one vectorized scan, no delegate per character
    private static readonly SearchValues<char> s_allowed = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:");

    public RedisKeys(string prefix, string name)
    {
        CheckName(name, "name");
        string tag = $"{{{prefix}:{name}}}";
        Epoch = tag + ":epoch";
        Sequence = tag + ":seq";
        Log = tag + ":log";
        Snapshot = tag + ":snap";
        Channel = RedisChannel.Literal($"{prefix}:{name}:changes");
    }

    public RedisKey Epoch { get; }
    public RedisKey Sequence { get; }
    public RedisKey Log { get; }
    public RedisKey Snapshot { get; }
    public RedisChannel Channel { get; }

    /// <summary>Names are 1 to 200 of letters, digits and <c>-_.:</c> (no braces: they would break the hash tag).</summary>
    public static void CheckName(string value, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(value, what);
        if (value.Length > 200 || value.AsSpan().ContainsAnyExcept(s_allowed))
        {
            throw new ArgumentException($"{what} '{(value.Length > 200 ? value[..200] + "..." : value)}' must be 1 to 200 letters, digits or -_.: characters.", what);
        }
    }
}
