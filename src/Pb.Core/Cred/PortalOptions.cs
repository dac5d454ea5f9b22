namespace Pb.Cred;

/// <summary>Limits of PB login on one connection.</summary>
public sealed class PortalOptions
{
    private int _maxFailedLogins = 5;

    /// <summary>
    /// Failed logins allowed on one connection; the next failure closes it. Default 5. Threat: password guessing
    /// through one connection. (Twisted has no limit.)
    /// </summary>
    public int MaxFailedLoginsPerConnection
    {
        get => _maxFailedLogins;
        set => _maxFailedLogins = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be at least 1.");
    }

    /// <summary>
    /// How long a failed login waits before it answers. Default 200 ms. Threat: fast guessing, and telling failure
    /// causes apart by time.
    /// </summary>
    public TimeSpan FailedLoginDelay
    {
        get => _failedLoginDelay;
        set => _failedLoginDelay = value >= TimeSpan.Zero && value <= TimeSpan.FromMinutes(1)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be between zero and one minute.");
    }

    private TimeSpan _failedLoginDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long a connection may stay open without a successful login; then it closes. Default 30 s;
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns it off. Threat: peers that connect and never log in, holding a
    /// socket, a root and a broker each until the connection cap is reached. (Twisted has no limit.)
    /// </summary>
    public TimeSpan LoginTimeout
    {
        get => _loginTimeout;
        set => _loginTimeout = value == Timeout.InfiniteTimeSpan || (value > TimeSpan.Zero && value.TotalMilliseconds <= uint.MaxValue - 1)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be positive (at most 49 days), or Timeout.InfiniteTimeSpan.");
    }

    private TimeSpan _loginTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Validates a bearer token for <c>loginToken(token, mind)</c> and answers its user, or null when it is not valid.
    /// Default null: token login is refused. Pb.AspNetCore sets it from the app's JwtBearer configuration.
    /// </summary>
    public Func<string, CancellationToken, ValueTask<System.Security.Claims.ClaimsPrincipal?>>? TokenValidator { get; set; }

    /// <summary>
    /// Whether a connection logged in with a token that expires (a JWT's <c>exp</c> claim, through <c>loginToken</c>
    /// or the WebSocket upgrade's identity) is closed when the token expires. Default false. Threat: a revoked or stolen
    /// short-lived token that keeps working as long as its connection lives. Expiries of any distance work (timers
    /// are stepped, so a token valid for a year does not overflow the 49.7-day timer limit).
    /// </summary>
    public bool CloseOnTokenExpiry { get; set; }

    /// <summary>The clock of <see cref="LoginTimeout"/> and <see cref="CloseOnTokenExpiry"/>. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider
    {
        get => _timeProvider;
        set => _timeProvider = value ?? throw new ArgumentNullException(nameof(value));
    }

    private TimeProvider _timeProvider = TimeProvider.System;

    /// <summary>A copy whose settings can change without touching these.</summary>
    public PortalOptions Clone() => (PortalOptions)MemberwiseClone();
}
