import { Broker, type BrokerOptions, type RemoteReference } from "./broker/Broker.js";
import type { Referenceable } from "./broker/Referenceable.js";
import * as cred from "./cred/Login.js";
import type { ITransport } from "./transport/ITransport.js";
import { WebSocketTransport, type WebSocketConstructor } from "./transport/WebSocketTransport.js";

/** How to open a PB connection over a WebSocket. */
export interface ConnectOptions extends BrokerOptions {
  /** Its token goes as `access_token` on the URL (how browsers authenticate WebSockets, as SignalR does). */
  readonly accessTokenFactory?: () => string | Promise<string>;
  /** The WebSocket constructor. Default: `globalThis.WebSocket` (Node 20 has none: pass the `ws` package's). */
  readonly WebSocket?: WebSocketConstructor;
}

/** A PB client over one connection: the peer's root object, and closing. */
export class PbClient {
  readonly #broker: Broker;

  private constructor(broker: Broker) {
    this.#broker = broker;
  }

  /** Opens PB over a WebSocket (`ws://` or `wss://`, sub-protocol `pb.banana`) and waits for the handshake. */
  static async connect(url: string, options: ConnectOptions = {}): Promise<PbClient> {
    const impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (impl === undefined) {
      throw new Error("No WebSocket here: pass options.WebSocket (in Node 20, the ws package's WebSocket).");
    }
    let address = url;
    if (options.accessTokenFactory !== undefined) {
      const token = await options.accessTokenFactory();
      address += `${url.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(token)}`;
    }
    const transport = await WebSocketTransport.connect(address, impl);
    const client = PbClient.start(transport, options);
    transport.flushEarly();
    return client;
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

  /** PB's password login; resolves to the avatar. */
  async login(credentials: cred.UsernamePassword, mind?: Referenceable): Promise<RemoteReference> {
    return cred.login(await this.getRootObject(), credentials, mind);
  }

  /** Anonymous login; resolves to the avatar. */
  async loginAnonymous(mind?: Referenceable): Promise<RemoteReference> {
    return cred.loginAnonymous(await this.getRootObject(), mind);
  }

  /** Login as the identity the WebSocket upgrade carried (Pb.Web); resolves to the avatar. */
  async loginAuthenticated(mind?: Referenceable): Promise<RemoteReference> {
    return cred.loginAuthenticated(await this.getRootObject(), mind);
  }

  /** Login with a bearer token (Pb.Web); resolves to the avatar. */
  async loginToken(token: string, mind?: Referenceable): Promise<RemoteReference> {
    return cred.loginToken(await this.getRootObject(), token, mind);
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
