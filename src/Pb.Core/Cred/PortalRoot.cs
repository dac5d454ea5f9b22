using System.Text;
using Pb.Jelly;

namespace Pb.Cred;

/// <summary>
/// The per-connection root of a PB portal (Twisted's <c>_PortalWrapper</c>). It hands out nothing but avatars, and
/// runs each avatar's logout exactly once: when the client releases its last reference to it or disconnects.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The login SemaphoreSlim never allocates its wait handle (AvailableWaitHandle is not used), so it holds nothing to dispose; disposing it at disconnect would race the finally that releases it.")]
internal sealed class PortalRoot : Root
{
    private readonly Portal _portal;
    private readonly Broker _broker;   // the session's narrow side: disconnect, release, close, logins
    private readonly PortalOptions _options;
    // Every session of each avatar: a realm may answer the same avatar for two logins, and each logout runs.
    private readonly Dictionary<object, List<Session>> _sessions = new(ReferenceEqualityComparer.Instance);
    // One login at a time per connection, so pipelined guesses are counted and delayed one by one.
    private readonly SemaphoreSlim _loginLock = new(1, 1);
    private int _failures;
    private int _loggedIn;

    public PortalRoot(Portal portal, Broker broker, PortalOptions options)
    {
        _portal = portal;
        _broker = broker;
        _options = options;
        broker.Released += OnReleased;
        broker.Disconnected.Register(static s => ((PortalRoot)s!).LogOutAll(), this);
        if (options.LoginTimeout != Timeout.InfiniteTimeSpan)
        {
            _ = WatchLoginAsync(options.LoginTimeout);
        }
    }

    /// <summary>Closes the connection when no login has succeeded within <see cref="PortalOptions.LoginTimeout"/>.</summary>
    private async Task WatchLoginAsync(TimeSpan timeout)
    {
        try
        {
            await Task.Delay(timeout, _options.TimeProvider, _broker.Disconnected).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (Volatile.Read(ref _loggedIn) == 0)
        {
            PortalRootLog.LoginTimedOut(_broker.Logger, _broker.Connection.ConnectionId);
            await _broker.CloseAsync(new PbProtocolException(
                $"No login within {timeout.TotalSeconds:0.###} s (PortalOptions.LoginTimeout).") { IsPolicyViolation = true }).ConfigureAwait(false);
        }
    }

    /// <summary>Step one of a password login: a fresh challenge and the object to answer it to.</summary>
    [Remote("login")]
    public PbTuple Login(object? username)
    {
        string name = username switch
        {
            byte[] bytes => Encoding.UTF8.GetString(bytes),
            string text => text,
            _ => throw new PbException("login(username) takes a username.") { RemoteTypeName = "builtins.TypeError" },
        };
        byte[] challenge = PbChallenge.NewChallenge();
        return new PbTuple(challenge, new Challenger(this, name, challenge));
    }

    /// <summary>
    /// Login as the user the transport already authenticated (the WebSocket upgrade's JWT or cookie): no password
    /// travels. Refused (UnauthorizedLogin) on a connection nobody authenticated.
    /// </summary>
    [Remote("loginAuthenticated")]
    public Task<Referenceable> LoginAuthenticatedAsync(object? mind) =>
        _broker.Connection.User is { Identity.IsAuthenticated: true } user
            ? LogInAsync(new ClaimsCredentials(user), mind)
            : Task.FromException<Referenceable>(new UnauthorizedLoginException());

    /// <summary>Login with a bearer token the host's validator accepts (any transport, raw TCP included).</summary>
    [Remote("loginToken")]
    public async Task<Referenceable> LoginTokenAsync(string token, object? mind)
    {
        Func<string, CancellationToken, ValueTask<System.Security.Claims.ClaimsPrincipal?>> validator = _options.TokenValidator
            ?? throw new UnhandledCredentialsException("This server does not accept token logins.");
        System.Security.Claims.ClaimsPrincipal? user = await validator(token, _broker.Disconnected).ConfigureAwait(false);
        Referenceable avatar = await LogInAsync(user is null ? new FailedCredentials() : new ClaimsCredentials(user), mind).ConfigureAwait(false);
        if (_options.CloseOnTokenExpiry && user is not null && TokenExpiry.Of(user) is { } expiry)
        {
            _ = Pb.Internal.LongDelay.CloseAtAsync(_broker.CloseAsync, expiry, _options.TimeProvider, _broker.Disconnected);
        }
        return avatar;
    }

    /// <summary>An invalid token: a failed login like a wrong password (counted, delayed).</summary>
    private sealed class FailedCredentials : ICredentials
    {
    }

    /// <summary>Anonymous login (works when the portal has <see cref="AllowAnonymousAccess"/>).</summary>
    [Remote("loginAnonymous")]
    public Task<Referenceable> LoginAnonymousAsync(object? mind) => LogInAsync(AnonymousCredentials.Instance, mind);

    internal async Task<Referenceable> LogInAsync(ICredentials credentials, object? mind)
    {
        CancellationToken disconnected = _broker.Disconnected;
        await _loginLock.WaitAsync(disconnected).ConfigureAwait(false);
        try
        {
            return await LogInOneAsync(credentials, mind).ConfigureAwait(false);
        }
        finally
        {
            _loginLock.Release();
        }
    }

    private async Task<Referenceable> LogInOneAsync(ICredentials credentials, object? mind)
    {
        if (Volatile.Read(ref _failures) >= _options.MaxFailedLoginsPerConnection)
        {
            // The limit is reached: refuse without checking (the connection is closing).
            throw new UnauthorizedLoginException();
        }
        AvatarLogin login;
        try
        {
            login = credentials is FailedCredentials
                ? throw new UnauthorizedLoginException()
                : await _portal.LoginAsync(credentials, mind, _broker.Disconnected).ConfigureAwait(false);
        }
        catch (UnauthorizedLoginException)
        {
            int failures = Interlocked.Increment(ref _failures);
            PortalRootLog.LoginFailed(_broker.Logger, _broker.Connection.ConnectionId, failures, _options.MaxFailedLoginsPerConnection);
            await Task.Delay(_options.FailedLoginDelay).ConfigureAwait(false);
            if (failures >= _options.MaxFailedLoginsPerConnection)
            {
                PortalRootLog.TooManyFailedLogins(_broker.Logger, _broker.Connection.ConnectionId);
                // The error answer is written first (the close flushes what is queued); then the connection closes.
                _ = Task.Delay(50).ContinueWith(static (_, b) => ((Broker)b!).CloseAsync(
                    new PbProtocolException("Too many failed logins (PortalOptions.MaxFailedLoginsPerConnection).") { IsPolicyViolation = true }), _broker, TaskScheduler.Default);
            }
            throw;
        }
        string avatarId = login.AvatarId ?? Portal.AnonymousAvatarId;
        var record = new PbLogin(_broker.Connection, avatarId, login.Avatar, mind, credentials is ClaimsCredentials claims ? claims.Principal : UserNamed(avatarId));
        _broker.AddLogin(record);
        lock (_sessions)
        {
            if (!_sessions.TryGetValue(login.Avatar, out List<Session>? list))
            {
                _sessions[login.Avatar] = list = [];
            }
            list.Add(new Session(login.Logout, _broker, record));
        }
        Volatile.Write(ref _loggedIn, 1);
        return login.Avatar;
    }

    private void OnReleased(object value)
    {
        List<Session>? sessions;
        lock (_sessions)
        {
            if (!_sessions.Remove(value, out sessions))
            {
                return;
            }
        }
        foreach (Session session in sessions)
        {
            session.LogOut();
        }
    }

    private void LogOutAll()
    {
        Session[] sessions;
        lock (_sessions)
        {
            sessions = [.. _sessions.Values.SelectMany(static l => l)];
            _sessions.Clear();
        }
        foreach (Session session in sessions)
        {
            session.LogOut();
        }
    }

    /// <summary>The caller of a password or anonymous login: a principal named after the avatar id (unauthenticated when anonymous).</summary>
    private static System.Security.Claims.ClaimsPrincipal UserNamed(string avatarId) =>
        avatarId.Length == 0
            ? new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity())
            : new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity(
                [new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.Name, avatarId), new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.NameIdentifier, avatarId)],
                authenticationType: "pb"));

    private sealed class Session(Action? logout, Broker broker, PbLogin login)
    {
        private int _done;

        public void LogOut()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                broker.RemoveLogin(login);
                logout?.Invoke();
            }
        }
    }

    /// <summary>
    /// Step two (Twisted's <c>_PortalAuthChallenger</c>): checks <c>MD5(MD5(password) || challenge)</c>. It presents
    /// itself to the portal as the credentials, so checkers verify the response without ever seeing the password.
    /// </summary>
    internal sealed class Challenger(PortalRoot root, string username, byte[] challenge) : Referenceable, IUsernamePassword
    {
        private byte[]? _response;
        private int _used;

        public string Username { get; } = username;

        [Remote("respond")]
        public Task<Referenceable> RespondAsync(byte[] response, object? mind)
        {
            // One answer per challenge: a replayed or second response is refused.
            if (Interlocked.Exchange(ref _used, 1) != 0)
            {
                throw new UnauthorizedLoginException();
            }
            _response = response;
            return root.LogInAsync(this, mind);
        }

        public bool CheckPassword(string password) => CheckMd5Password(PbChallenge.Md5(password));

        public bool CheckMd5Password(ReadOnlySpan<byte> md5OfPassword) =>
            _response is not null && md5OfPassword.Length == 16
            && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(PbChallenge.RespondFromMd5(challenge, md5OfPassword), _response);
    }
}
