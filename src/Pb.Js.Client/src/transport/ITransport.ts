/** A byte stream to a PB peer (a TCP socket, a WebSocket): what the broker needs from it. */
export interface ITransport {
  /** Sends bytes (whole banana items; the transport may frame them as it likes). */
  send(data: Uint8Array): void;
  /** Closes the connection. */
  close(): void;
  /** Called with each chunk received. */
  onreceive: ((data: Uint8Array) => void) | undefined;
  /** Called once when the connection closed, with the error that closed it, if any. */
  onclose: ((error?: Error) => void) | undefined;
  /** Hands over bytes that came before `onreceive` was set, if the transport keeps them for later. */
  flushEarly?(): void;
}
