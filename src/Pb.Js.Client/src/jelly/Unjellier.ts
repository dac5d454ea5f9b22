import { BananaFloat, type BananaValue } from "../banana/BananaTypes.js";
import { decodeUtf8, encodeUtf8, latin1 } from "../banana/Text.js";
import { JellyRegistry } from "./JellyRegistry.js";
import {
  FrozenSet, JellyError, type JellyContext, PbDate, PbDateTime, PbDecimal, PbTime, PbTimedelta, Tuple, Unpersistable, type PbValue,
} from "./JellyValues.js";

/** A tree's type name as text: a jellied string is `["unicode", text]` (our own trees may hold it as a string). */
const kindOf = (head: BananaValue | undefined): string | undefined =>
  head instanceof Uint8Array ? (head.length <= 256 ? latin1(head) : "") : typeof head === "string" ? head : undefined;

/** A value made before its contents, so references inside it (cycles) can point back at it. */
interface Made {
  readonly value: PbValue;
  readonly fill: () => void;
}

const none: Made["fill"] = () => {};

/**
 * Jelly s-expressions to values, accepting only what is safe: the plain value atoms and the copied classes
 * registered on the {@link JellyRegistry}. Everything else (`module`, `class`, `function`, `instance`, an
 * unregistered class name) is refused with a {@link JellyError}, as Twisted's `InsecureJelly`.
 */
export class Unjellier {
  #references: Map<number, PbValue> | undefined;   // made at the first reference (most values have none)

  constructor(private readonly registry: JellyRegistry = new JellyRegistry(), private readonly context?: JellyContext) {}

  unjelly(tree: BananaValue): PbValue {
    // (the common shapes of whole messages are read straight from the bytes, PlainJelly.ts: this is the path of the rest)
    const made = this.#make(tree);
    made.fill();
    return made.value;
  }

  /** Whether every dictionary entry from `start` on is [["unicode", text], value]; throws for one that is no pair. */
  #textKeys(entries: readonly BananaValue[], start: number): boolean {
    let text = true;
    for (let i = start; i < entries.length; i++) {
      const entry = entries[i];
      if (!Array.isArray(entry) || entry.length !== 2) {
        throw new JellyError("A dictionary entry is a key and a value.");
      }
      const key = entry[0];
      text &&= Array.isArray(key) && key.length === 2 && kindOf(key[0]) === "unicode";
    }
    return text;
  }

  #make(tree: BananaValue): Made {
    if (typeof tree === "number" || typeof tree === "bigint") {
      return { value: tree, fill: none };
    }
    if (tree instanceof BananaFloat) {
      return { value: tree.value, fill: none };
    }
    if (tree instanceof Uint8Array) {
      return { value: tree, fill: none };
    }
    if (typeof tree === "string") {
      return { value: encodeUtf8(tree), fill: none };
    }
    const kind = kindOf(tree[0]);
    if (kind === undefined) {
      throw new JellyError("A jelly list must start with a type name.");
    }
    if (kind === "") {
      throw new JellyError("InsecureJelly: a type name longer than 256 bytes.");
    }
    const rest = tree.slice(1);
    switch (kind) {
      case "None":
        return { value: null, fill: none };
      case "boolean": {
        const text = this.#text(rest[0]);
        if (text !== "true" && text !== "false") {
          throw new JellyError(`A boolean is "true" or "false", not ${JSON.stringify(text)}.`);
        }
        return { value: text === "true", fill: none };
      }
      case "unicode":
        return { value: this.#text(rest[0]), fill: none };
      case "list": {
        const list: PbValue[] = [];
        return { value: list, fill: () => { for (const item of rest) list.push(this.unjelly(item)); } };
      }
      case "tuple": {
        const tuple = new Tuple();
        return { value: tuple, fill: () => { for (const item of rest) tuple.items.push(this.unjelly(item)); } };
      }
      case "frozenset": {
        const set = new FrozenSet();
        return { value: set, fill: () => { for (const item of rest) set.items.push(this.unjelly(item)); } };
      }
      case "set": {
        const set = new Set<PbValue>();
        return { value: set, fill: () => { for (const item of rest) set.add(this.unjelly(item)); } };
      }
      case "dictionary":
        return this.#dictionary(rest);
      case "reference": {
        const id = rest[0];
        if (typeof id !== "number" || rest[1] === undefined) {
          throw new JellyError("A reference needs an id and a value.");
        }
        const made = this.#make(rest[1]);
        (this.#references ??= new Map()).set(id, made.value);
        return made;
      }
      case "dereference": {
        const id = rest[0];
        if (typeof id !== "number" || this.#references?.has(id) !== true) {
          // Deliberately stricter than Twisted, which leaves a placeholder object in the result.
          throw new JellyError(`Dereference of id ${String(id)}, which is not defined.`);
        }
        return { value: this.#references!.get(id) ?? null, fill: none };
      }
      case "datetime": {
        const [y, mo, d, h, mi, s, us] = this.#ints(rest[0], 7);
        return { value: new PbDateTime(y!, mo!, d!, h!, mi!, s!, us!), fill: none };
      }
      case "date": {
        const [y, mo, d] = this.#ints(rest[0], 3);
        return { value: new PbDate(y!, mo!, d!), fill: none };
      }
      case "time": {
        const [h, mi, s, us] = this.#ints(rest[0], 4);
        return { value: new PbTime(h!, mi!, s!, us!), fill: none };
      }
      case "timedelta": {
        const [d, s, us] = this.#ints(rest[0], 3);
        return { value: new PbTimedelta(d!, s!, us!), fill: none };
      }
      case "decimal": {
        const [coefficient, exponent] = rest;
        if ((typeof coefficient !== "number" && typeof coefficient !== "bigint") || typeof exponent !== "number") {
          throw new JellyError("A decimal is a coefficient and an exponent.");
        }
        return { value: new PbDecimal(BigInt(coefficient), exponent, Object.is(coefficient, -0)), fill: none };
      }
      case "unpersistable":
        return { value: new Unpersistable(this.#text(rest[0])), fill: none };
      case "persistent":
        // Twisted's broker has no persistent store either: the value arrives as an Unpersistable.
        return { value: new Unpersistable("Persistent callback not found"), fill: none };
      case "remote":
      case "local":
      case "cached":
      case "lcache": {
        const live = this.context?.unjellyAtom(kind, rest);
        if (live !== undefined) {
          return { value: live, fill: none };
        }
        // References to live objects mean something only on a connection: the broker resolves them, never this layer.
        throw new JellyError(`InsecureJelly: ${kind} (a reference to a live object needs a connection)`);
      }
      default:
        return this.#copy(kind, rest);
    }
  }

  #dictionary(entries: BananaValue[]): Made {
    const pairs = entries as [BananaValue, BananaValue][];
    // Text keys only: a plain object without a prototype (so "__proto__" is just a key); any other key: a Map.
    if (this.#textKeys(entries, 0)) {
      const object = Object.create(null) as Record<string, PbValue>;
      return { value: object, fill: () => { for (const [k, v] of pairs) object[this.unjelly(k) as string] = this.unjelly(v); } };
    }
    const map = new Map<PbValue, PbValue>();
    return { value: map, fill: () => { for (const [k, v] of pairs) map.set(this.unjelly(k), this.unjelly(v)); } };
  }

  #copy(tag: string, rest: BananaValue[]): Made {
    const type = this.registry.find(tag);
    if (type !== undefined && rest.length === 2 && typeof rest[0] === "number") {
      // [tag, luid, state]: the first send of a Cacheable; the broker keeps the copy so later updates reach it.
      const cache = new type() as { setCopyableState?: (state: Record<string, PbValue>) => void };
      if (this.context?.holdCache(rest[0], cache) !== true) {
        throw new JellyError(`InsecureJelly: ${tag} sent as a cache, which only a connection can hold`);
      }
      return { value: cache, fill: () => this.#setState(cache, rest[1]!) };
    }
    if (type === undefined || rest.length !== 1) {
      throw new JellyError(`InsecureJelly: ${tag} (not a registered class; nothing unregistered is made)`);
    }
    const instance = new type() as { setCopyableState?: (state: Record<string, PbValue>) => void };
    return { value: instance, fill: () => this.#setState(instance, rest[0]!) };
  }

  #setState(instance: { setCopyableState?: (state: Record<string, PbValue>) => void }, tree: BananaValue): void {
        const state = this.unjelly(tree);
        const fields: Record<string, PbValue> = state instanceof Map ? Object.fromEntries([...state].map(([k, v]) => [String(k), v])) : (state as Record<string, PbValue>);
        if (typeof instance.setCopyableState === "function") {
          instance.setCopyableState(fields);
        } else {
          for (const [k, v] of Object.entries(fields)) {
            if (k !== "__proto__" && k !== "constructor") {
              (instance as Record<string, PbValue>)[k] = v;
            }
          }
        }
  }

  #text(value: BananaValue | undefined): string {
    if (typeof value === "string") {
      return value;
    }
    if (!(value instanceof Uint8Array)) {
      throw new JellyError("Expected a byte string.");
    }
    try {
      return decodeUtf8(value);
    } catch {
      throw new JellyError("Text that is not UTF-8.");
    }
  }

  #ints(value: BananaValue | undefined, count: number): number[] {
    const parts = this.#text(value).split(" ").map((p) => Number.parseInt(p, 10));
    if (parts.length !== count || parts.some((n) => !Number.isSafeInteger(n))) {
      throw new JellyError(`Expected ${count} integers.`);
    }
    return parts;
  }
}

/** Unjellies one tree on its own. */
export function unjelly(tree: BananaValue, registry?: JellyRegistry): PbValue {
  return new Unjellier(registry).unjelly(tree);
}
