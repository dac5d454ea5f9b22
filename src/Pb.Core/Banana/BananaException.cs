namespace Pb.Banana;

/// <summary>
/// Malformed or over-limit banana input, or a value banana cannot encode. On a live connection this closes
/// the connection, as Twisted does. Limit errors name the limit and the setting that raises it.
/// </summary>
public sealed class BananaException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BananaException(string message) : base(message) { }

    /// <summary>Creates the exception with an inner cause.</summary>
    public BananaException(string message, Exception inner) : base(message, inner) { }
}
