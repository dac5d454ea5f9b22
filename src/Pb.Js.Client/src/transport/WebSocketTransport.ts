import type { ITransport } from "./ITransport.js";

/** The part of the WebSocket API the transport uses (the browser's, Node 22's, or the `ws` package's). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly protocol: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `ws`'s in Node 20. */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** PB over a WebSocket with the `pb.banana` sub-protocol: the same banana bytes as TCP, in binary messages. */
export class WebSocketTransport implements ITransport {
  onreceive: ((data: Uint8Array) => void) | undefined;
  onclose: ((error?: Error) => void) | undefined;
  #early: Uint8Array[] = [];

  private constructor(private readonly socket: WebSocketLike) {
    socket.onmessage = (event) => {
      const data = event.data;
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : undefined;
      if (bytes === undefined) {
        socket.close(1003, "PB over WebSocket carries binary messages only");
        return;
      }
      if (this.onreceive === undefined) {
        this.#early.push(bytes.slice());
      } else {
        for (const early of this.#early.splice(0)) {
          this.onreceive(early);
        }
        this.onreceive(bytes);
      }
    };
    socket.onclose = (event) => this.onclose?.(event.code === 1000 ? undefined : new Error(`WebSocket closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`));
  }

  /** Opens `url` with the `pb.banana` sub-protocol. */
  static connect(url: string, WebSocketImpl: WebSocketConstructor): Promise<WebSocketTransport> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocketImpl(url, ["pb.banana"]);
      socket.binaryType = "arraybuffer";
      const transport = new WebSocketTransport(socket);
      socket.onopen = () => {
        socket.onerror = null;
        resolve(transport);
      };
      socket.onerror = () => reject(new Error(`Could not open a PB WebSocket to ${url.replace(/access_token=[^&]*/, "access_token=[Redacted]")}.`));
    });
  }

  /** Hands over bytes that came before the broker listened. */
  flushEarly(): void {
    if (this.onreceive !== undefined) {
      for (const early of this.#early.splice(0)) {
        this.onreceive(early);
      }
    }
  }

  send(data: Uint8Array): void {
    this.socket.send(data);
  }

  close(): void {
    this.socket.close(1000, "closed");
  }
}
