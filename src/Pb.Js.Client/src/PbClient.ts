import { Broker, type BrokerOptions, type RemoteReference } from "./broker/Broker.js";
import type { Referenceable } from "./broker/Referenceable.js";
import * as cred from "./cred/Login.js";
import { LogLevel, toLogger, type ILogger } from "./Logging.js";
import { toRetryPolicy, type IRetryPolicy } from "./Reconnect.js";
import type { ITransport } from "./transport/ITransport.js";
import { WebSocketTransport, type WebSocketConstructor } from "./transport/WebSocketTransport.js";

/** What every PB client takes, over any transport. */
export interface ClientOptions extends BrokerOptions {
  /**
   * Reconnect when the connection is lost (not when {@link PbClient.close} closed it): `true` for the default
   * delays (0, 2, 10, 30 seconds, then give up), a list of delays in milliseconds, or an {@link IRetryPolicy}.
   * Each attempt opens a new connection with the same options and logs in again as the last login did.
   * Default: off.
   */
  readonly reconnect?: boolean | readonly number[] | IRetryPolicy;
}

/** How to open a PB connection over a WebSocket. */
export interface ConnectOptions extends ClientOptions {
  /**
   * Its token goes as `access_token` on the URL (how browsers authenticate WebSockets, as SignalR does). Asked
   * again for every reconnect attempt, so it can hand out a fresh token.
   */
  readonly accessTokenFactory?: () => string | Promise<string>;
  /**
   * The WebSocket constructor. Default: `globalThis.WebSocket`; in Node without one (Node 20), the `ws` package's
   * when it is installed.
   */
  readonly WebSocket?: WebSocketConstructor;
}

/** Where a client is: connected, between a lost connection and the next (`reconnecting`), or closed for good. */
export type PbClientState = "connected" | "reconnecting" | "closed";

type Relogin = (client: PbClient) => Promise<RemoteReference>;

let fallbackWebSocket: (() => Promise<WebSocketConstructor | undefined>) | undefined;

/** @internal The Node entry point sets where a WebSocket comes from when there is no global one (the `ws` package). */
export function setFallbackWebSocket(load: () => Promise<WebSocketConstructor | undefined>): void {
  fallbackWebSocket = load;
}

/**
 * A PB client (Twisted's `PBClientFactory`, SignalR's `HubConnection`): the peer's root object, the logins, and,
 * when asked for, automatic reconnect with events, as SignalR's `withAutomaticReconnect`.
 */
export class PbClient {
  #broker: Broker;
  #state: PbClientState = "connected";
  #relogin: Relogin | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #wakeRetry: (() => void) | undefined;
  readonly #open: () => Promise<ITransport>;
  readonly #options: ClientOptions;
  readonly #logger: ILogger;
  readonly #retryPolicy: IRetryPolicy | undefined;
  readonly #onclose: ((error?: Error) => void)[] = [];
  readonly #onreconnecting: ((error: Error) => void)[] = [];
  readonly #onreconnected: ((avatar: RemoteReference) => void)[] = [];

  private constructor(broker: Broker, open: () => Promise<ITransport>, options: ClientOptions) {
    this.#open = open;
    this.#options = options;
    this.#logger = toLogger(options.logger);
    this.#retryPolicy = toRetryPolicy(options.reconnect);
    this.#broker = broker;
    this.#watch(broker);
  }

  /** Opens PB over a WebSocket (`ws://` or `wss://`, sub-protocol `pb.banana`) and waits for the handshake. */
  static async connect(url: string, options: ConnectOptions = {}): Promise<PbClient> {
    const impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? await fallbackWebSocket?.();
    if (impl === undefined) {
      throw new Error("No WebSocket here: pass options.WebSocket, or install the ws package (Node 20 has no global WebSocket).");
    }
    const open = async (): Promise<ITransport> => {
      let address = url;
      if (options.accessTokenFactory !== undefined) {
        const token = await options.accessTokenFactory();
        address += `${url.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(token)}`;
      }
      return WebSocketTransport.connect(address, impl);
    };
    return PbClient.start(open, options);
  }

  /** @internal Runs PB over transports `open` makes (one now, one per reconnect) and waits for the handshake. */
  static async start(open: () => Promise<ITransport>, options: ClientOptions = {}): Promise<PbClient> {
    const broker = await PbClient.#handshake(open, options);
    toLogger(options.logger).log(LogLevel.Information, "PB connection open.");
    return new PbClient(broker, open, options);
  }

  static async #handshake(open: () => Promise<ITransport>, options: ClientOptions): Promise<Broker> {
    const transport = await open();
    const broker = new Broker(transport, options);
    transport.flushEarly?.();
    await broker.whenReady();
    return broker;
  }

  /** Where the client is now. */
  get state(): PbClientState {
    return this.#state;
  }

  /** True while a connection is open (false while reconnecting and once closed). */
  get isConnected(): boolean {
    return this.#state === "connected" && !this.#broker.isClosed;
  }

  /** The server's root object on the current connection (Twisted's `getRootObject()`). */
  getRootObject(): Promise<RemoteReference> {
    return Promise.resolve(this.#broker.root);
  }

  /** PB's password login; resolves to the avatar. A reconnect logs in again with the same credentials and mind. */
  login(credentials: cred.UsernamePassword, mind?: Referenceable): Promise<RemoteReference> {
    const copy = { username: credentials.username, password: credentials.password };
    return this.#login((client) => cred.login(client.#broker.root, copy, mind));
  }

  /** Anonymous login; resolves to the avatar. */
  loginAnonymous(mind?: Referenceable): Promise<RemoteReference> {
    return this.#login((client) => cred.loginAnonymous(client.#broker.root, mind));
  }

  /** Login as the identity the WebSocket upgrade carried (Pb.Web); resolves to the avatar. */
  loginAuthenticated(mind?: Referenceable): Promise<RemoteReference> {
    return this.#login((client) => cred.loginAuthenticated(client.#broker.root, mind));
  }

  /** Login with a bearer token (Pb.Web); resolves to the avatar. A reconnect logs in again with the same token. */
  loginToken(token: string, mind?: Referenceable): Promise<RemoteReference> {
    return this.#login((client) => cred.loginToken(client.#broker.root, token, mind));
  }

  async #login(run: Relogin): Promise<RemoteReference> {
    const avatar = await run(this);
    this.#relogin = run;
    return avatar;
  }

  /** Called once when the client closed for good: `error` is why, undefined when {@link close} closed it. */
  onclose(callback: (error?: Error) => void): void {
    this.#onclose.push(callback);
  }

  /** Called when the connection was lost and reconnecting begins (only with the `reconnect` option). */
  onreconnecting(callback: (error: Error) => void): void {
    this.#onreconnecting.push(callback);
  }

  /**
   * Called once a reconnect succeeded, with the avatar of the new login (the root object when there was no login).
   * References of the old connection reject with DeadReferenceError: fetch what you hold again here.
   */
  onreconnected(callback: (avatar: RemoteReference) => void): void {
    this.#onreconnected.push(callback);
  }

  /** Closes the connection and stops reconnecting; pending calls fail with ConnectionLostError. */
  close(): void {
    if (this.#state === "closed") {
      return;
    }
    const wasReconnecting = this.#state === "reconnecting";
    this.#state = "closed";
    clearTimeout(this.#retryTimer);
    this.#wakeRetry?.();
    this.#broker.close();
    if (wasReconnecting) {
      this.#closed(undefined);
    }
  }

  #watch(broker: Broker): void {
    broker.onclose = (error) => {
      if (broker !== this.#broker) {
        return;
      }
      if (error === undefined || this.#state === "closed") {
        this.#state = "closed";
        this.#closed(undefined);
      } else if (this.#retryPolicy === undefined) {
        this.#state = "closed";
        this.#closed(error);
      } else {
        void this.#reconnect(error);
      }
    };
  }

  async #reconnect(lost: Error): Promise<void> {
    this.#state = "reconnecting";
    this.#logger.log(LogLevel.Warning, `PB connection lost (${lost.message}); reconnecting.`);
    this.#emit(this.#onreconnecting, lost);
    const started = Date.now();
    let reason = lost;
    for (let attempt = 0; ; attempt++) {
      const delay = this.#retryPolicy!.nextRetryDelayInMilliseconds({
        previousRetryCount: attempt, elapsedMilliseconds: Date.now() - started, retryReason: reason,
      });
      if (delay === null) {
        this.#logger.log(LogLevel.Information, `Gave up reconnecting after ${attempt} attempts.`);
        this.#state = "closed";
        this.#closed(reason);
        return;
      }
      if (delay > 0) {
        await new Promise<void>((resolve) => {
          this.#wakeRetry = resolve;
          this.#retryTimer = setTimeout(resolve, delay);
        });
      }
      if (this.#stopped()) {
        return;
      }
      let broker: Broker | undefined;
      try {
        broker = await PbClient.#handshake(this.#open, this.#options);
        if (this.#stopped()) {
          broker.close();
          return;
        }
        this.#broker = broker;
        const avatar = this.#relogin === undefined ? broker.root : await this.#relogin(this);
        if (this.#stopped()) {
          broker.close();
          return;
        }
        if (broker.isClosed) {
          throw broker.closeReason ?? new Error("The new connection closed at once.");
        }
        this.#watch(broker);
        this.#state = "connected";
        this.#logger.log(LogLevel.Information, `PB connection open again after ${attempt + 1} attempts.`);
        this.#emit(this.#onreconnected, avatar);
        return;
      } catch (e) {
        broker?.close();
        reason = e instanceof Error ? e : new Error(String(e));
        this.#logger.log(LogLevel.Information, `Reconnect attempt ${attempt + 1} failed: ${reason.message}`);
      }
    }
  }

  /** Whether close() came while awaiting (a method, so the compiler does not narrow the state across awaits). */
  #stopped(): boolean {
    return this.#state === "closed";
  }

  #closed(error: Error | undefined): void {
    this.#emit(this.#onclose, error);
  }

  #emit<A>(callbacks: readonly ((a: A) => void)[], argument: A): void {
    for (const callback of callbacks) {
      try {
        callback(argument);
      } catch (e) {
        this.#logger.log(LogLevel.Error, `A ${callbacks === this.#onclose ? "onclose" : callbacks === this.#onreconnecting ? "onreconnecting" : "onreconnected"} callback threw: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}
