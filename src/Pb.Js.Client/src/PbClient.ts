import { Broker, type BrokerOptions, type RemoteReference } from "./broker/Broker.js";
import type { ITransport } from "./transport/ITransport.js";

/** A PB client over one connection: the peer's root object, and closing. */
export class PbClient {
  readonly #broker: Broker;

  private constructor(broker: Broker) {
    this.#broker = broker;
  }

  /** @internal Runs PB over a transport that is already open, and waits for the dialect and version. */
  static async start(transport: ITransport, options?: BrokerOptions): Promise<PbClient> {
    const broker = new Broker(transport, options);
    await broker.whenReady();
    return new PbClient(broker);
  }

  /** The server's root object (Twisted's `getRootObject()`). */
  getRootObject(): Promise<RemoteReference> {
    return Promise.resolve(this.#broker.root);
  }

  /** Closes the connection; pending calls fail with ConnectionLostError. */
  close(): void {
    this.#broker.close();
  }

  /** False once the connection closed. */
  get isConnected(): boolean {
    return !this.#broker.isClosed;
  }
}
