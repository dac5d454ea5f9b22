/** The remote method failed (Twisted's `CopiedFailure`): the peer's exception type and message. */
export class RemoteError extends Error {
  override readonly name = "RemoteError";
  constructor(readonly remoteType: string, message: string, readonly remoteTraceback?: string) {
    super(message);
  }
}

/** A call on a reference whose connection is closed, or that was disposed. */
export class DeadReferenceError extends Error {
  override readonly name = "DeadReferenceError";
}

/** The connection closed while the call waited for its answer (Twisted's `PBConnectionLost`). */
export class ConnectionLostError extends Error {
  override readonly name = "ConnectionLostError";
}
