import { Broker, type BrokerOptions, type RemoteReference } from "./broker/Broker.js";
import type { Referenceable } from "./broker/Referenceable.js";
import * as cred from "./cred/Login.js";
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
