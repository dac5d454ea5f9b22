namespace Pb;

/// <summary>
/// The peer's method failed (Twisted's <c>CopiedFailure</c> / <c>pb.RemoteError</c>). Carries the remote type name,
/// the message and, when the peer allows it, the remote traceback.
/// </summary>
public sealed class RemoteException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RemoteException(string remoteType, string message, string? remoteTraceback = null, IReadOnlyList<string>? parents = null)
        : base(message)
    {
        RemoteType = remoteType;
        RemoteTraceback = remoteTraceback;
        Parents = parents ?? [remoteType];
    }

    /// <summary>The qualified type name the peer reported, e.g. <c>builtins.ValueError</c>.</summary>
    public string RemoteType { get; }

    /// <summary>The peer's traceback text when it sends one (Twisted: <c>unsafeTracebacks</c>); otherwise null.</summary>
    public string? RemoteTraceback { get; }

    /// <summary>The remote type and its base types, most specific first, as the peer reported them.</summary>
    public IReadOnlyList<string> Parents { get; }

    /// <summary>True when the remote error is, or derives from, <paramref name="qualifiedTypeName"/> (Twisted's <c>check</c>).</summary>
    public bool Is(string qualifiedTypeName) => Parents.Contains(qualifiedTypeName, StringComparer.Ordinal);

    /// <inheritdoc/>
    public override string ToString() => $"{RemoteType}: {Message}" + (RemoteTraceback is null ? "" : Environment.NewLine + RemoteTraceback);
}

/// <summary>The connection closed while the call was waiting for its answer (Twisted's <c>PBConnectionLost</c>).</summary>
public sealed class ConnectionLostException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ConnectionLostException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A call on a reference whose connection has closed (Twisted's <c>DeadReferenceError</c>).</summary>
public sealed class DeadReferenceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DeadReferenceException(string message) : base(message) { }
}

/// <summary>The peer broke the protocol; the connection is closed (PB-WIRE.md 3.2).</summary>
public sealed class PbProtocolException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PbProtocolException(string message) : base(message) { }

    /// <summary>
    /// True when a limit or policy of this side (an option, an expired token) closed the connection rather than a
    /// malformed message: a WebSocket then closes with 1008 (policy violation) instead of 1002 (protocol error).
    /// </summary>
    internal bool IsPolicyViolation { get; init; }
}
