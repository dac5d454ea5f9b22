namespace Pb.Jelly;

/// <summary>
/// A jelly tree that is malformed (a bad boolean, invalid UTF-8, a dereference to an unknown id, ...) or a
/// value that cannot be jellied. Inside a PB call this becomes an error answer for that call only.
/// </summary>
public class JellyException : Exception
{
    /// <summary>Creates the exception.</summary>
    public JellyException(string message) : base(message) { }

    /// <summary>Creates the exception with an inner cause.</summary>
    public JellyException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// A type tag that the receiver does not allow: neither a safe built-in type nor registered on the
/// serializer's <see cref="JellyOptions"/>. Twisted raises <c>twisted.spread.jelly.InsecureJelly</c> here,
/// and that is the remote type name Twisted peers see.
/// </summary>
public sealed class InsecureJellyException : JellyException
{
    /// <summary>Twisted's name for this error.</summary>
    public const string TwistedTypeName = "twisted.spread.jelly.InsecureJelly";

    /// <summary>Creates the exception.</summary>
    public InsecureJellyException(string message, string typeTag) : base(message) => TypeTag = typeTag;

    /// <summary>The tag that was refused.</summary>
    public string TypeTag { get; }
}
