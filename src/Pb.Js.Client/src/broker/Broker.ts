/// <reference lib="esnext.disposable" preserve="true" />
import { BananaParser } from "../banana/BananaParser.js";
import { BananaError, DEFAULT_BANANA_LIMITS, type BananaLimits, type BananaValue } from "../banana/BananaTypes.js";
import { BananaWriter, encodeBanana } from "../banana/BananaWriter.js";
import { ConnectionLostError, DeadReferenceError, RemoteError } from "../Errors.js";
import { Jellier } from "../jelly/Jellier.js";
import { JellyRegistry } from "../jelly/JellyRegistry.js";
import { JellyError, Tuple, type JellyContext, type PbValue } from "../jelly/JellyValues.js";
import { Unjellier } from "../jelly/Unjellier.js";
import { plainEnd, readPlainMessage, writePlain, type PlainMessage } from "../jelly/PlainJelly.js";
import type { ITransport } from "../transport/ITransport.js";
import { RemoteCache, type CacheHolder } from "../flavors/RemoteCache.js";
import { Referenceable } from "./Referenceable.js";
import { LogLevel, NullLogger, toLogger, type ILogger } from "../Logging.js";

const decoder = new TextDecoder();
const text = (b: BananaValue | undefined): string => (b instanceof Uint8Array ? decoder.decode(b) : String(b));
const ROOT = "root";
const NO_KWARGS: Readonly<Record<string, PbValue>> = Object.freeze(Object.create(null) as Record<string, PbValue>);

/** What a broker allows and how it behaves. */
export interface BrokerOptions {
  /** Banana limits on what the peer sends. Default {@link DEFAULT_BANANA_LIMITS}. */
  readonly limits?: BananaLimits;
  /** Copied classes the peer may send (and ours it receives as copies). Default: none. */
  readonly registry?: JellyRegistry;
  /** Calls waiting for an answer at once. Default 10,000. Threat: our own memory when the peer stops answering. */
  readonly maxPendingCalls?: number;
  /** Where log lines go: an {@link ILogger}, or a level for the console. Default: nothing. */
  readonly logger?: ILogger | LogLevel;
  /** Puts what messages carry into Trace lines (off by default: arguments and answers may be private). */
  readonly logMessageContent?: boolean;
}

/** The peer's error objects (Twisted's CopyableFailure), received as a copy. */
class CopiedFailure {
  type: unknown = "";
  value: unknown = "";
  traceback: unknown = undefined;
}

interface Pending {
  resolve(value: PbValue): void;
  reject(error: Error): void;
}

/**
 * One PB session over one transport (Twisted's `pb.Broker`), client side: the dialect choice and version check, our
 * calls and their answers, the peer's calls on our {@link Referenceable}s, references both ways with decref.
 */
export class Broker implements JellyContext, CacheHolder {
  readonly #transport: ITransport;
  readonly #parser: BananaParser;
  readonly #limits: BananaLimits;
  readonly #registry: JellyRegistry;
  readonly #maxPending: number;
  readonly #logger: ILogger;
  readonly #logContent: boolean;
  // A safety net for references dropped without dispose(): once one is collected, its decref goes out.
  readonly #finalizer = typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry<number>((luid) => this.decref(luid))
    : undefined;
  #closedByUs = false;
  #writer: BananaWriter | undefined;   // the messages queued this turn, in one buffer (the transport gets a copy)
  #flushQueued = false;
  /** Called once when the connection closed: with the error that closed it, or undefined when this side closed it. */
  onclose: ((error: Error | undefined) => void) | undefined;
  #dialect: "none" | "pb" = "none";
  #negotiated = false;
  #closed = false;
  #closeError: Error | undefined;
  #nextRequest = 1;
  #nextLuid = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #locals = new Map<number, { object: Referenceable; refs: number }>();
  readonly #localIds = new Map<Referenceable, number>();
  readonly #caches = new Map<number, object>();
  readonly #cacheReceived = new Map<number, number>();   // how often each cache arrived: the owner counts every send
  readonly #ready: Promise<void>;
  #readyResolve!: () => void;
  #readyReject!: (e: Error) => void;
  /** The peer's root object. */
  readonly root: RemoteReference;

  constructor(transport: ITransport, options: BrokerOptions = {}) {
    this.#transport = transport;
    this.#limits = options.limits ?? DEFAULT_BANANA_LIMITS;
    this.#parser = new BananaParser("none", this.#limits);
    // ours on top of the user's, which stays as it was
    this.#registry = new JellyRegistry(options.registry).add("twisted.spread.pb.CopyableFailure", CopiedFailure);
    this.#maxPending = options.maxPendingCalls ?? 10_000;
    this.#logger = toLogger(options.logger);
    this.#logContent = options.logMessageContent ?? false;
    this.root = new RemoteReference(this, 0, true);
    this.#ready = new Promise((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.#ready.catch(() => {});
    transport.onreceive = (data) => this.#receive(data);
    transport.onclose = (error) => this.#lost(error ?? new ConnectionLostError("The connection closed."));
  }

  /** Resolves once the dialect and version are agreed. */
  whenReady(): Promise<void> {
    return this.#ready;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (!this.#closed) {
      this.#closedByUs = true;
      this.#flush(); // what was sent before close() goes out first (a decref, a one-way call)
      this.#transport.close();
      this.#lost(new ConnectionLostError("The connection was closed by this side."));
    }
  }

  // ---------------------------------------------------------------- calls

  call(target: RemoteReference, method: string, args: readonly PbValue[], kwargs: Readonly<Record<string, PbValue>> | undefined, answer: boolean): Promise<PbValue> {
    if (this.#closed) {
      return Promise.reject(new DeadReferenceError("Calling Stale Broker: the connection is closed."));
    }
    if (answer && this.#pending.size >= this.#maxPending) {
      return Promise.reject(new Error(`Too many calls are waiting for an answer (${this.#maxPending}, maxPendingCalls).`));
    }
    const id = this.#nextRequest++;
    try {
      const kw = kwargs === undefined ? NO_KWARGS : Object.assign(Object.create(null) as Record<string, PbValue>, kwargs);
      const objectId = target.isRoot ? ROOT : target.luid;
      const result = answer
        ? new Promise<PbValue>((resolve, reject) => this.#pending.set(id, { resolve, reject }))
        : Promise.resolve<PbValue>(null);
      const plain = (w: BananaWriter): boolean => {
        w.list(7);
        w.text("message");
        w.write(id);
        w.write(objectId);
        w.text(method);
        w.write(answer ? 1 : 0);
        const seen = new Set<object>();
        return writePlain(w, new Tuple(args as PbValue[]), seen, 0) && writePlain(w, kw, seen, 0);
      };
      if (!this.#queue(plain, "message", id)) {
        const jellier = this.#jellier();
        this.#send([
          "message", id, objectId, method, answer ? 1 : 0,
          jellier.jelly(new Tuple(args as PbValue[])), jellier.jelly(kw), // the jellier only reads them
        ]);
      }
      return result;
    } catch (e) {
      // a value that cannot be sent fails this call only (JellyError, BananaError), and nothing waits for it
      this.#pending.delete(id);
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** A reference of ours is released: no safety net any more, and the peer hears decref. */
  release(reference: RemoteReference): void {
    this.#finalizer?.unregister(reference);
    this.decref(reference.luid);
  }

  /** Tells the peer we hold one reference fewer to its object `luid`. */
  decref(luid: number): void {
    if (!this.#closed) {
      this.#send(["decref", luid]);
    }
  }

  // ---------------------------------------------------------------- jelly context

  jellyReference(value: object): BananaValue | undefined {
    if (value instanceof RemoteReference) {
      if (value.broker !== this) {
        throw new JellyError("A reference of another connection cannot be sent on this one.");
      }
      return ["local", value.luid];
    }
    if (value instanceof Referenceable) {
      let luid = this.#localIds.get(value);
      if (luid === undefined) {
        luid = this.#nextLuid++;
        this.#localIds.set(value, luid);
        this.#locals.set(luid, { object: value, refs: 0 });
      }
      this.#locals.get(luid)!.refs++;
      return ["remote", luid];
    }
    return undefined;
  }

  holdCache(luid: number, copy: object): boolean {
    if (copy instanceof RemoteCache) {
      copy._holder = this;
      copy._luid = luid;
    }
    this.#caches.set(luid, copy);
    this.#cacheReceived.set(luid, 1);
    return true;
  }

  /** Our copy of cache `luid` is released: the owner hears once per time it sent it, then stops observing and answers uncache. */
  decache(luid: number): void {
    const times = this.#cacheReceived.get(luid) ?? 0;
    this.#cacheReceived.delete(luid);
    for (let i = 0; i < times && !this.#closed; i++) {
      this.#send(["decache", luid]);
    }
  }

  unjellyAtom(kind: string, rest: readonly BananaValue[]): PbValue | undefined {
    const id = rest[0];
    if (typeof id !== "number") {
      return undefined;
    }
    if (kind === "cached") {
      const copy = this.#caches.get(id);
      if (copy !== undefined) {
        this.#cacheReceived.set(id, (this.#cacheReceived.get(id) ?? 0) + 1);
      }
      return copy;
    }
    if (kind === "remote") {
      const reference = new RemoteReference(this, id, false);
      this.#finalizer?.register(reference, id, reference);
      return reference;
    }
    if (kind === "local") {
      return this.#locals.get(id)?.object;
    }
    return undefined;
  }

  #jellier(): Jellier {
    return new Jellier(this.#registry, this);
  }

  #unjelly(tree: BananaValue): PbValue {
    return new Unjellier(this.#registry, this).unjelly(tree);
  }

  // ---------------------------------------------------------------- receiving

  #receive(data: Uint8Array): void {
    try {
      // Calls and answers of plain values straight from the bytes, while whole messages come; the rest as trees.
      let at = 0;
      while (this.#dialect === "pb" && !this.#logContent && at < data.length && !this.#parser.hasPartial) {
        const message = readPlainMessage(data, at, Math.min(data.length, at + this.#limits.maxMessageSize), this.#limits);
        if (message === undefined) {
          break;
        }
        at = plainEnd;
        this.#handlePlain(message);
      }
      for (const item of this.#parser.feed(at === 0 ? data : data.subarray(at))) {
        if (!this.#negotiated) {
          this.#negotiate(item);
        } else {
          this.#handle(item);
        }
      }
    } catch (e) {
      const error = e instanceof BananaError || e instanceof JellyError ? e : new Error(String(e));
      this.#logger.log(LogLevel.Error, `The peer broke the protocol; closing the connection: ${error.message}`);
      this.#transport.close();
      this.#lost(new ConnectionLostError(`The peer broke the protocol: ${error.message}`));
    }
  }

  /** The server's first item lists its dialects; we choose pb when offered, then both sides send their version. */
  #negotiate(offer: BananaValue): void {
    if (!Array.isArray(offer)) {
      throw new BananaError("The server's first item is not a list of dialects.");
    }
    const names = offer.map(text);
    const choice = names.includes("pb") ? "pb" : names.includes("none") ? "none" : undefined;
    if (choice === undefined) {
      throw new BananaError(`No common dialect (the server offers ${names.join(", ")}).`);
    }
    this.#transport.send(encodeBanana(choice, "none"));
    this.#dialect = choice;
    this.#parser.dialect = choice;
    this.#negotiated = true;
    this.#send(["version", 6]);
  }

  #handlePlain(message: PlainMessage): void {
    this.#trace("received", message.command, message.id);
    if (message.command === "answer") {
      this.#settle("answer", message.id, () => message.value);
    } else {
      this.#receiveMessage(message.id, message.objectId, message.method, message.answerRequired, message.command === "cachemessage", () => message.args);
    }
  }

  /** The answer (or error) to our call `id` settles its Promise; an answer to a call we never made breaks the protocol. */
  #settle(command: string, id: BananaValue | undefined, value: () => PbValue): void {
    const pending = typeof id === "number" ? this.#pending.get(id) : undefined;
    if (pending === undefined) {
      throw new BananaError(`An ${command} for request ${String(id)}, which we never sent.`);
    }
    this.#pending.delete(id as number);
    let result: PbValue;
    try {
      result = value();
    } catch (e) {
      pending.reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (command === "answer") {
      pending.resolve(result);
    } else {
      pending.reject(toRemoteError(result));
    }
  }

  #handle(item: BananaValue): void {
    if (!Array.isArray(item) || !(item[0] instanceof Uint8Array || typeof item[0] === "string")) {
      throw new BananaError("A PB message is a list that starts with its command.");
    }
    const command = text(item[0]);
    this.#trace("received", command, item[1], undefined, item);
    switch (command) {
      case "version":
        if (item[1] !== 6) {
          throw new BananaError(`Incompatible PB version ${String(item[1])} (we speak 6).`);
        }
        this.#readyResolve();
        return;
      case "answer":
      case "error":
        this.#settle(command, item[1], () => this.#unjelly(item[2] as BananaValue));
        return;
      case "message":
      case "cachemessage": {
        const objectId = item[2];
        this.#receiveMessage(item[1], typeof objectId === "number" ? objectId : undefined, text(item[3]), item[4] === 1, command === "cachemessage", () => {
          const unjellier = new Unjellier(this.#registry, this);
          const args = unjellier.unjelly(item[5] as BananaValue);
          const kwargs = item[6];
          if (!Array.isArray(kwargs) || kwargs.length > 1) {
            unjellier.unjelly(kwargs as BananaValue); // ["dictionary"], no keyword arguments: nothing to read
          }
          return args instanceof Tuple ? args.items : [];
        });
        return;
      }
      case "uncache": {
        const luid = item[1];
        if (typeof luid === "number") {
          this.#caches.delete(luid);
        }
        return;
      }
      case "decref": {
        const luid = item[1];
        const local = typeof luid === "number" ? this.#locals.get(luid) : undefined;
        if (local !== undefined && --local.refs <= 0) {
          this.#locals.delete(luid as number);
          this.#localIds.delete(local.object);
        }
        return;
      }
      default:
        this.#logger.log(LogLevel.Warning, `The peer sent a command we do not know (${command.slice(0, 64)}); answering didNotUnderstand.`);
        this.#send(["didNotUnderstand", item[0]]);
    }
  }

  /**
   * A call from the peer on one of our Referenceables: `remote_<name>`, answered unless it asked for none. The method
   * runs at once, as Twisted runs it (so one-way pushes cost no Promise); an answer that is a Promise is awaited.
   */
  #receiveMessage(id: BananaValue | undefined, objectId: number | undefined, method: string, answerRequired: boolean, cache: boolean, args: () => PbValue[]): void {
    // A call on one of our Referenceables runs remote_<name>; an owner's update of a cache we hold runs observe_<name>.
    const target = objectId === undefined ? undefined : cache ? this.#caches.get(objectId) : this.#locals.get(objectId)?.object;
    const prefix = cache ? "observe_" : "remote_";
    const fn = target === undefined ? undefined : (target as unknown as Record<string, unknown>)[`${prefix}${method}`];
    if (typeof fn !== "function") {
      this.#logger.log(LogLevel.Debug, `The peer called ${prefix}${method.slice(0, 64)}, which ${target === undefined ? "object is unknown" : "does not exist"}.`);
      this.#reply(answerRequired, id, false, `No such method: ${prefix}${method}`);
      return;
    }
    let result: unknown;
    try {
      result = (fn as (...a: PbValue[]) => unknown).apply(target, args());
    } catch (e) {
      this.#reply(answerRequired, id, false, e instanceof Error ? e.message : String(e));
      return;
    }
    if (result instanceof Promise) {
      result.then((value: unknown) => this.#reply(answerRequired, id, true, (value ?? null) as PbValue),
        (e: unknown) => this.#reply(answerRequired, id, false, e instanceof Error ? e.message : String(e)));
    } else {
      this.#reply(answerRequired, id, true, (result ?? null) as PbValue);
    }
  }

  #reply(answerRequired: boolean, id: BananaValue | undefined, ok: boolean, value: PbValue): void {
    if (answerRequired && !this.#closed) {
      const plain = (w: BananaWriter): boolean => {
        w.list(3);
        w.text("answer");
        w.write(id as number);
        return writePlain(w, value, new Set(), 0);
      };
      if (ok && this.#queue(plain, "answer", id)) {
        return;
      }
      let tree: BananaValue;
      try {
        tree = ok ? this.#jellier().jelly(value) : failureTree(value);
      } catch (e) {
        ok = false;
        tree = failureTree(e instanceof Error ? e.message : String(e));
      }
      this.#send([ok ? "answer" : "error", id as number, tree]);
    }
  }

  /**
   * Queues a message: every message sent in one turn of the event loop goes out in one transport write (one WebSocket
   * message, one TCP write) once that turn's microtasks ran, or at once past 64 KiB. A message that cannot be encoded
   * throws and leaves nothing of itself in the queue.
   */
  #send(message: BananaValue): void {
    const [command, id] = message as BananaValue[];
    this.#queue((w) => {
      w.write(message);
      return true;
    }, text(command), id, message);
  }

  /**
   * Queues the message `write` writes; when it answers false (a value that is not plain) or throws, nothing of it
   * stays. Plain writes are used only while message content is not logged (a Trace line with content needs the tree).
   */
  #queue(write: (w: BananaWriter) => boolean, command: string, id: BananaValue | undefined, message?: BananaValue): boolean {
    if (message === undefined && this.#logContent) {
      return false;
    }
    let writer = this.#writer;
    if (writer === undefined || writer.dialect !== this.#dialect) {
      this.#flush();
      writer = this.#writer = new BananaWriter(this.#dialect);
    }
    const before = writer.length;
    let queued = false;
    try {
      queued = write(writer);
    } finally {
      if (!queued) {
        writer.truncate(before);
      }
    }
    if (!queued) {
      return false;
    }
    this.#trace("sending", command, id, writer.length - before, message);
    if (writer.length >= 64 * 1024) {
      this.#flush();
    } else if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushSoon);
    }
    return true;
  }

  readonly #flushSoon = (): void => {
    this.#flushQueued = false;
    this.#flush();
  };

  /** Hands what is queued to the transport. */
  #flush(): void {
    const writer = this.#writer;
    if (writer !== undefined && this.#closed) {
      writer.reset(); // the connection is gone: nothing to send it on
    } else if (writer !== undefined && writer.length > 0) {
      const bytes = writer.finish().slice();
      writer.reset();
      this.#transport.send(bytes);
    }
  }

  /** A Trace line per message: its command and request id, what it carries only when logMessageContent is on. */
  #trace(verb: string, command: string, id: BananaValue | undefined, size?: number, message?: BananaValue[] | BananaValue): void {
    if (this.#logger === NullLogger) {
      return;
    }
    const head = `${verb} ${command}${typeof id === "number" ? ` #${id}` : ""}${size === undefined ? "" : ` (${size} bytes)`}`;
    this.#logger.log(LogLevel.Trace, this.#logContent && Array.isArray(message) ? `${head}: ${render(message.slice(1))}` : head);
  }

  #lost(error: Error): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#closeError = error;
    this.#readyReject(error);
    for (const pending of this.#pending.values()) {
      pending.reject(new ConnectionLostError(`The connection closed before the answer came: ${error.message}`));
    }
    this.#pending.clear();
    this.#locals.clear();
    this.#localIds.clear();
    this.#caches.clear();
    this.#cacheReceived.clear();
    this.#logger.log(this.#closedByUs ? LogLevel.Debug : LogLevel.Information, `PB connection closed: ${error.message}`);
    this.onclose?.(this.#closedByUs ? undefined : error);
  }

  /** Why the connection closed, once it did. */
  get closeReason(): Error | undefined {
    return this.#closeError;
  }
}

/** A message for a Trace line: bytes as text when they read as such, at most 2,000 characters. */
function render(value: BananaValue): string {
  const out = JSON.stringify(value, (_, v: unknown) =>
    v instanceof Uint8Array ? decoder.decode(v) : typeof v === "bigint" ? `${v}n` : v);
  return out.length > 2000 ? `${out.slice(0, 2000)}...` : out;
}

/** An error we answer with: a CopyableFailure as Twisted sends it (type, value, traceback unavailable). */
function failureTree(value: PbValue): BananaValue {
  const message = typeof value === "string" ? value : "error";
  return ["twisted.spread.pb.CopyableFailure", ["dictionary",
    [["unicode", "type"], "builtins.Exception"],
    [["unicode", "value"], ["unicode", message]],
    [["unicode", "traceback"], ["unicode", "Traceback unavailable\n"]],
  ]];
}

function toRemoteError(value: PbValue): RemoteError {
  if (value instanceof CopiedFailure) {
    const type = value.type instanceof Uint8Array ? decoder.decode(value.type) : String(value.type);
    const traceback = typeof value.traceback === "string" ? value.traceback : undefined;
    return new RemoteError(type, String(value.value), traceback);
  }
  return new RemoteError("twisted.spread.pb.Error", typeof value === "string" ? value : value instanceof Uint8Array ? decoder.decode(value) : String(value));
}

/**
 * The remote methods of `T` as they are called from here: the same parameters, answers as Promises. Declare what the
 * server's object offers as an interface (`interface Greeter { hello(name: string): string }`) and call it through
 * {@link RemoteReference.as}: `await root.as<Greeter>().hello("x")` is a `string`, checked when compiled.
 */
export type RemoteInterface<T> = {
  readonly [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/**
 * A reference to an object on the other side (Twisted's `pb.RemoteReference`). `callRemote` calls its remote
 * methods; `dispose()` (or `using`) tells the peer we no longer hold it.
 */
export class RemoteReference implements Disposable {
  #released = false;

  constructor(readonly broker: Broker, readonly luid: number, readonly isRoot: boolean) {}

  /** Calls `method` with positional arguments and resolves with the answer. */
  callRemote<T = PbValue>(method: string, ...args: PbValue[]): Promise<T> {
    return this.#call(method, args, undefined, true) as Promise<T>;
  }

  /** Calls `method` with positional and keyword arguments. */
  callRemoteKw<T = PbValue>(method: string, args: readonly PbValue[], kwargs: Readonly<Record<string, PbValue>>): Promise<T> {
    return this.#call(method, args, kwargs, true) as Promise<T>;
  }

  /**
   * A typed view of this reference: each method of `T` calls the remote method of the same name. No code is
   * generated; the names are the wire names (`add_one`, `getTally`).
   */
  as<T extends object>(): RemoteInterface<T> {
    return new Proxy(Object.create(null) as object, {
      get: (_, name) => (typeof name === "string" && name !== "then" ? (...args: PbValue[]) => this.callRemote(name, ...args) : undefined),
    }) as RemoteInterface<T>;
  }

  /** Calls `method` without asking for an answer. */
  callRemoteOneWay(method: string, ...args: PbValue[]): void {
    void this.#call(method, args, undefined, false).catch(() => {});
  }

  /** Releases this reference (decref), once. */
  dispose(): void {
    if (!this.isRoot && !this.#released) {
      this.#released = true;
      this.broker.release(this);
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #call(method: string, args: readonly PbValue[], kwargs: Readonly<Record<string, PbValue>> | undefined, answer: boolean): Promise<PbValue> {
    if (this.#released) {
      return Promise.reject(new DeadReferenceError("This reference was disposed."));
    }
    return this.broker.call(this, method, args, kwargs, answer);
  }
}
