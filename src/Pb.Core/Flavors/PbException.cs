namespace Pb;

/// <summary>
/// An error meant for the peer (Twisted's <c>pb.Error</c>): thrown from a remote method, its message always reaches
/// the caller, whatever <see cref="BrokerOptions.DetailedErrors"/> says. Other exceptions are unexpected and reach
/// the peer only as a generic error unless detailed errors are on.
/// </summary>
public class PbException : Exception
{
    /// <summary>Twisted's name for <c>pb.Error</c>.</summary>
    public const string TwistedErrorType = "twisted.spread.pb.Error";

    /// <summary>Creates the exception.</summary>
    public PbException(string message) : base(message) { }

    /// <summary>Creates the exception with an inner cause (which is not sent).</summary>
    public PbException(string message, Exception inner) : base(message, inner) { }

    /// <summary>
    /// The qualified type name the peer sees (the failure's <c>type</c>); default <c>twisted.spread.pb.Error</c>.
    /// Set it to what a Twisted caller checks for, e.g. <c>builtins.ValueError</c>.
    /// </summary>
    public string RemoteTypeName { get; init; } = TwistedErrorType;

    /// <summary>
    /// The remote type's base types, most specific first, before Python's <c>Exception</c>; the peer's
    /// <c>Failure.check</c> and <c>trap</c> match against them. Default: none.
    /// </summary>
    public IReadOnlyList<string> RemoteBaseTypes { get; init; } = [];
}
