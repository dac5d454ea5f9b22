namespace Pb;

/// <summary>How a <see cref="PbClient"/> connects, beyond the address.</summary>
public sealed class PbClientOptions
{
    /// <summary>The broker's options: limits on what the server sends, the jelly registry, pending calls.</summary>
    public BrokerOptions Broker { get; set; } = new();

    /// <summary>Where the client logs (nothing by default). Message content is never logged.</summary>
    public Microsoft.Extensions.Logging.ILogger? Logger { get; set; }

    /// <summary>
    /// Reconnects automatically when the connection is lost, with these delays, and repeats the last login on the
    /// new connection (<see cref="PbClient.LoginAsync(Func{RemoteReference, CancellationToken, Task{RemoteReference}}, CancellationToken)"/>).
    /// Null (the default): a lost connection closes the client. <see cref="DelayListRetryPolicy"/> gives the default delays.
    /// </summary>
    public IRetryPolicy? Reconnect { get; set; }

    /// <summary>
    /// WebSockets only: called before every connection attempt (the first and each reconnect); a token it answers
    /// goes as <c>Authorization: Bearer</c> on the upgrade request, so <c>loginAuthenticated</c> sees that identity.
    /// </summary>
    public Func<CancellationToken, ValueTask<string?>>? AccessTokenProvider { get; set; }

    /// <summary>WebSockets only: sets up each <see cref="System.Net.WebSockets.ClientWebSocket"/> (headers, cookies, certificates).</summary>
    public Action<System.Net.WebSockets.ClientWebSocketOptions>? ConfigureWebSocket { get; set; }

    /// <summary>WebSockets only: another sub-protocol than <c>pb.banana</c> (for example Pb.AspNetCore's <c>PbMessagePackTranscoder</c>).</summary>
    public Banana.IBananaTranscoder? Transcoder { get; set; }
}
