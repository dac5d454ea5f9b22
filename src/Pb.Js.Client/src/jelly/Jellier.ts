import { BananaFloat, type BananaValue } from "../banana/BananaTypes.js";
import { JellyRegistry } from "./JellyRegistry.js";
import {
  AsFloat, FrozenSet, JellyError, type JellyContext, PbDate, PbDateTime, PbDecimal, PbTime, PbTimedelta, Tuple, Unpersistable, type PbValue,
} from "./JellyValues.js";

// Type names and other words go into the tree as text; the writer sends text as its UTF-8 bytes (and a vocabulary
// word as its index in the pb dialect), exactly as it sends the same bytes.
const A = {
  none: "None", boolean: "boolean", true: "true", false: "false", unicode: "unicode", list: "list", tuple: "tuple",
  dictionary: "dictionary", set: "set", frozenset: "frozenset", reference: "reference", dereference: "dereference",
  datetime: "datetime", date: "date", time: "time", timedelta: "timedelta", decimal: "decimal", unpersistable: "unpersistable",
} as const;

/**
 * Values to jelly s-expressions, as Twisted's `_Jellier` makes them: an object met a second time becomes
 * `["dereference", n]` and its first occurrence is rewritten in place to `["reference", n, ...]`, with ids given in the
 * order objects are met again (so the trees are byte-identical to Twisted's).
 */
export class Jellier {
  readonly #preserved = new Map<object, BananaValue[]>();
  readonly #cooked = new Map<object, BananaValue[]>();
  #nextRef = 1;

  constructor(private readonly registry: JellyRegistry = new JellyRegistry(), private readonly context?: JellyContext) {}

  jelly(value: PbValue): BananaValue {
    if (value === null || value === undefined) {
      return [A.none];
    }
    switch (typeof value) {
      case "boolean":
        return [A.boolean, value ? A.true : A.false];
      case "number":
        return Number.isInteger(value) && !Object.is(value, -0) ? value : new BananaFloat(value); // -0 can only be a float
      case "bigint":
        return value;
      case "string":
        return [A.unicode, value];
      case "object":
        break;
      default:
        throw new JellyError(`Cannot jelly a ${typeof value}.`);
    }
    if (value instanceof Uint8Array) {
      return value;
    }
    if (value instanceof AsFloat) {
      return new BananaFloat(value.value);
    }
    if (value instanceof PbDateTime) {
      return [A.datetime, [value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond].join(" ")];
    }
    if (value instanceof PbDate) {
      return [A.date, [value.year, value.month, value.day].join(" ")];
    }
    if (value instanceof PbTime) {
      return [A.time, [value.hour, value.minute, value.second, value.microsecond].join(" ")];
    }
    if (value instanceof PbTimedelta) {
      return [A.timedelta, [value.days, value.seconds, value.microseconds].join(" ")];
    }
    if (value instanceof PbDecimal) {
      const c = value.coefficient;
      const coefficient = c >= BigInt(Number.MIN_SAFE_INTEGER) && c <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(c) : c;
      return [A.decimal, value.negativeZero && c === 0n ? -0 : coefficient, value.exponent];
    }
    if (value instanceof Unpersistable) {
      return [A.unpersistable, value.reason];
    }
    const byReference = this.context?.jellyReference(value);
    if (byReference !== undefined) {
      return byReference;
    }
    const known = this.#checkMutable(value);
    if (known !== undefined) {
      return known;
    }
    // Twisted's prepare(): a placeholder stands for the value while it is being jellied (a cycle rewrites it).
    this.#preserved.set(value, []);
    const sxp: BananaValue[] = [];
    if (Array.isArray(value)) {
      sxp.push(A.list);
      for (let i = 0; i < value.length; i++) sxp.push(this.jelly(value[i] as PbValue));
    } else if (value instanceof Tuple) {
      sxp.push(A.tuple, ...value.items.map((v) => this.jelly(v)));
    } else if (value instanceof FrozenSet) {
      sxp.push(A.frozenset, ...value.items.map((v) => this.jelly(v)));
    } else if (value instanceof Set) {
      sxp.push(A.set, ...[...value].map((v) => this.jelly(v as PbValue)));
    } else if (value instanceof Map) {
      sxp.push(A.dictionary, ...[...value].map(([k, v]) => [this.jelly(k as PbValue), this.jelly(v as PbValue)]));
    } else {
      const tag = this.registry.tagOf(value);
      const proto: unknown = Object.getPrototypeOf(value);
      if (tag !== undefined) {
        const state = new Map<PbValue, PbValue>(Object.entries(value));
        sxp.push(tag, this.jelly(state));
      } else if (proto === null || proto === Object.prototype) {
        sxp.push(A.dictionary);
        for (const key in value) {
          if (Object.prototype.hasOwnProperty.call(value, key)) {
            sxp.push([[A.unicode, key], this.jelly((value as Record<string, PbValue>)[key] as PbValue)]);
          }
        }
      } else {
        throw new JellyError(`Cannot send an instance of ${(value as { constructor?: { name?: string } }).constructor?.name ?? "an unknown class"}: register its class on the JellyRegistry.`);
      }
    }
    return this.#preserve(value, sxp);
  }

  #checkMutable(value: object): BananaValue[] | undefined {
    const cooked = this.#cooked.get(value);
    if (cooked !== undefined) {
      return cooked;
    }
    const preserved = this.#preserved.get(value);
    if (preserved !== undefined) {
      // Met a second time: give it an id, and turn its first occurrence into ["reference", id, ...] in place.
      const copy = [...preserved];
      const id = this.#nextRef++;
      preserved.length = 0;
      preserved.push(A.reference, id, copy);
      const ref: BananaValue[] = [A.dereference, id];
      this.#cooked.set(value, ref);
      return ref;
    }
    return undefined;
  }

  #preserve(value: object, sxp: BananaValue[]): BananaValue[] {
    if (this.#cooked.has(value)) {
      // Referenced while it was being jellied (a cycle): the placeholder becomes ["reference", id, sxp].
      const placeholder = this.#preserved.get(value)!;
      placeholder[2] = sxp;
      return placeholder;
    }
    this.#preserved.set(value, sxp);
    return sxp;
  }
}

/** Jellies one value on its own. */
export function jelly(value: PbValue, registry?: JellyRegistry): BananaValue {
  return new Jellier(registry).jelly(value);
}
