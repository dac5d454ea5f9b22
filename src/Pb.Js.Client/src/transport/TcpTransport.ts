import { connect, type Socket } from "node:net";
import type { ITransport } from "./ITransport.js";

/** Raw PB over TCP (Node only): straight to Twisted or to Pb.Web's TCP listener. */
export class TcpTransport implements ITransport {
  #onreceive: ((data: Uint8Array) => void) | undefined;
  #early: Uint8Array[] = [];   // bytes that came before anyone listened (the server speaks first)
  onclose: ((error?: Error) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
      if (this.#onreceive === undefined) {
        this.#early.push(bytes.slice());
      } else {
        this.#onreceive(bytes);
      }
    });
    let failure: Error | undefined;
    socket.on("error", (e) => { failure = e; });
    socket.on("close", () => this.onclose?.(failure));
  }

  get onreceive(): ((data: Uint8Array) => void) | undefined {
    return this.#onreceive;
  }

  set onreceive(handler: ((data: Uint8Array) => void) | undefined) {
    this.#onreceive = handler;
    if (handler !== undefined) {
      for (const bytes of this.#early.splice(0)) {
        handler(bytes);
      }
    }
  }

  /** Opens a TCP connection to `host:port`. */
  static connect(host: string, port: number): Promise<TcpTransport> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once("connect", () => resolve(new TcpTransport(socket)));
      socket.once("error", reject);
    });
  }

  send(data: Uint8Array): void {
    this.socket.write(data);
  }

  close(): void {
    this.socket.end();
  }
}
