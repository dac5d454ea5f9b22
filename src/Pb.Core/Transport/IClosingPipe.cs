namespace Pb;

/// <summary>A pipe whose transport can tell the peer why the connection closes (a WebSocket close status).</summary>
internal interface IClosingPipe
{
    /// <summary>Called once, before the pipe is completed: null for a normal close.</summary>
    void SetCloseReason(Exception? reason);
}
