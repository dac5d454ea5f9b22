using Pb.Jelly;

namespace Pb;

/// <summary>
/// Twisted's <c>twisted.spread.pb.CopyableFailure</c>: the error payload of <c>["error", reqId, failure]</c>
/// (PB-WIRE.md 3.8). Registered on every broker's jelly options, both to send and to receive.
/// </summary>
internal sealed class CopyableFailure
{
    public const string Tag = "twisted.spread.pb.CopyableFailure";
    private static int s_count;

    public CopyableFailure(PbDictionary state) => State = state;

    public PbDictionary State { get; }

    /// <summary>The state Twisted sends, keys in Twisted's order.</summary>
    public static CopyableFailure Create(string type, string value, IReadOnlyList<string> parents, string? traceback)
    {
        var parentList = new List<object?>(parents.Count);
        foreach (string parent in parents)
        {
            parentList.Add(parent);
        }
        return new CopyableFailure(new PbDictionary(11)
        {
            ["count"] = (long)Interlocked.Increment(ref s_count),
            ["type"] = System.Text.Encoding.UTF8.GetBytes(type),
            ["value"] = value,
            ["captureVars"] = false,
            ["frames"] = new List<object?>(),
            ["stack"] = new List<object?>(),
            ["tb"] = null,
            ["parents"] = parentList,
            ["unsafeTracebacks"] = traceback is not null,
            ["traceback"] = traceback ?? "Traceback unavailable\n",
        });
    }

    /// <summary>What the caller sees: type, message, traceback (when it is a real one) and parents.</summary>
    public RemoteException ToException()
    {
        string type = Text(State, "type") ?? "builtins.Exception";
        string message = Text(State, "value") ?? "";
        string? traceback = Text(State, "traceback");
        if (traceback is "Traceback unavailable\n" or "")
        {
            traceback = null;
        }
        var parents = new List<string>();
        if (State.TryGetValue("parents", out object? p) && p is System.Collections.IEnumerable list && p is not string and not byte[])
        {
            foreach (object? item in list)
            {
                if (Text(item) is { } name)
                {
                    parents.Add(name);
                }
            }
        }
        if (parents.Count == 0)
        {
            parents.Add(type);
        }
        return new RemoteException(type, message, traceback, parents);
    }

    private static string? Text(PbDictionary state, string key) => state.TryGetValue(key, out object? v) ? Text(v) : null;

    private static string? Text(object? value) => value switch
    {
        string s => s,
        byte[] b => System.Text.Encoding.UTF8.GetString(b),
        null => null,
        _ => PbValueFormatter.Format(value),
    };

    /// <summary>Registers the failure tag beside the application's types.</summary>
    public static JellyOptions AddTo(JellyOptions options)
    {
        JellyTypeRegistry types = options.Types.Clone();
        if (!types.Contains(Tag))
        {
            types.Add<CopyableFailure>(Tag, static f => f.State, static s => new CopyableFailure(s as PbDictionary ?? new PbDictionary()));
        }
        return new JellyOptions { Types = types, SendUnregisteredAsUnpersistable = options.SendUnregisteredAsUnpersistable };
    }
}
