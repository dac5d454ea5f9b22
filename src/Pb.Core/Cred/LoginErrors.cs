namespace Pb.Cred;

/// <summary>The login failed: unknown user or wrong password (Twisted's <c>UnauthorizedLogin</c>). The message says nothing more.</summary>
public sealed class UnauthorizedLoginException : PbException
{
    /// <summary>Creates the exception.</summary>
    public UnauthorizedLoginException() : base("")
    {
        RemoteTypeName = TwistedErrorType;
        // Twisted's MRO, so that trap(LoginFailed) and trap(Unauthorized) work on the Twisted side.
        RemoteBaseTypes = ["twisted.cred.error.LoginFailed", "twisted.cred.error.Unauthorized"];
    }

    /// <summary>Twisted's name for it.</summary>
    public new const string TwistedErrorType = "twisted.cred.error.UnauthorizedLogin";
}

/// <summary>No checker of the portal handles these credentials (Twisted's <c>UnhandledCredentials</c>).</summary>
public sealed class UnhandledCredentialsException : PbException
{
    /// <summary>Creates the exception.</summary>
    public UnhandledCredentialsException(string message) : base(message)
    {
        RemoteTypeName = "twisted.cred.error.UnhandledCredentials";
        RemoteBaseTypes = ["twisted.cred.error.LoginFailed"];
    }
}
