import {
  BananaError, BananaFloat, DEFAULT_BANANA_LIMITS, FLOAT, INT, LIST, LONGINT, LONGNEG, NEG, STRING, VOCAB, VOCABULARY,
  type BananaDialect, type BananaLimits, type BananaValue,
} from "./BananaTypes.js";
import { asciiToken } from "./Text.js";

// what #token read
const INCOMPLETE = 0;
const VALUE = 1;
const OPENED = 2;

/**
 * Reads banana incrementally, as Twisted's `Banana.dataReceived` does, without its quadratic re-buffering: bytes go
 * into one growing buffer read from an offset, a token is taken only once it is complete (a partial one waits for the
 * next chunk and consumes nothing), and nesting is kept on an explicit stack with a depth cap.
 */
export class BananaParser {
  #buffer = new Uint8Array(0);
  #view = new DataView(this.#buffer.buffer);
  #start = 0;
  #end = 0;
  readonly #lists: BananaValue[][] = [];   // the open lists, innermost last (grown as items come: a header's
  readonly #expected: number[] = [];       // length is a claim, not memory to hand out), and how many items each awaits
  #messageBytes = 0;
  #value: BananaValue | undefined;
  #opened = 0;

  constructor(public dialect: BananaDialect = "none", private readonly limits: BananaLimits = DEFAULT_BANANA_LIMITS) {}

  /** Adds bytes and returns every top-level s-expression they complete. Throws {@link BananaError} on bad input. */
  feed(chunk: Uint8Array): BananaValue[] {
    this.#append(chunk);
    const out: BananaValue[] = [];
    for (;;) {
      const item = this.#next();
      if (item === undefined) {
        break;
      }
      out.push(item);
    }
    if (this.#messageBytes + (this.#end - this.#start) > this.limits.maxMessageSize) {
      throw new BananaError(`Security precaution: a message larger than ${this.limits.maxMessageSize} bytes (BananaLimits.maxMessageSize).`);
    }
    return out;
  }

  /** Whether bytes of an unfinished item are waiting. */
  get hasPartial(): boolean {
    return this.#end > this.#start || this.#lists.length > 0;
  }

  #append(chunk: Uint8Array): void {
    const pending = this.#end - this.#start;
    if (this.#end + chunk.length > this.#buffer.length) {
      if (pending + chunk.length <= this.#buffer.length && this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(Math.max(1024, (pending + chunk.length) * 2));
        grown.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = grown;
        this.#view = new DataView(grown.buffer);
      }
      this.#start = 0;
      this.#end = pending;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** The next complete top-level item, or undefined when more bytes are needed. */
  #next(): BananaValue | undefined {
    const lists = this.#lists;
    const expected = this.#expected;
    for (;;) {
      const status = this.#token();
      if (status === INCOMPLETE) {
        return undefined;
      }
      let item: BananaValue;
      if (status === OPENED) {
        if (lists.length >= this.limits.maxDepth) {
          throw new BananaError(`Security precaution: lists nested deeper than ${this.limits.maxDepth} (BananaLimits.maxDepth).`);
        }
        if (this.#opened > 0) {
          lists.push([]);
          expected.push(this.#opened);
          continue;
        }
        item = []; // an empty list is complete at once
      } else {
        item = this.#value!;
        this.#value = undefined;
      }
      // Add the item to the innermost open list, and close every list that completes.
      for (;;) {
        const depth = lists.length;
        if (depth === 0) {
          this.#messageBytes = 0;
          return item;
        }
        const top = lists[depth - 1]!;
        top.push(item);
        if (top.length !== expected[depth - 1]) {
          break;
        }
        lists.pop();
        expected.pop();
        item = top;
      }
    }
  }

  /** Consumes the bytes up to `end`, counting them against the message limit. */
  #take(end: number): void {
    this.#messageBytes += end - this.#start;
    this.#start = end;
    if (this.#messageBytes > this.limits.maxMessageSize) {
      throw new BananaError(`Security precaution: a message larger than ${this.limits.maxMessageSize} bytes (BananaLimits.maxMessageSize).`);
    }
  }

  /**
   * Reads one token: VALUE (in #value), OPENED (a list of #opened items), or INCOMPLETE (consuming nothing) when it is
   * not all here yet.
   */
  #token(): number {
    const b = this.#buffer;
    const limit = this.limits.maxHeaderLength;
    let pos = this.#start;
    const end = this.#end;
    while (pos < end && b[pos]! < 0x80) {
      pos++;
    }
    const headerLength = pos - this.#start;
    if (pos === end) {
      if (headerLength > limit) {
        throw new BananaError(`Security precaution: more than ${limit} bytes of prefix`);
      }
      return INCOMPLETE;
    }
    if (headerLength > limit) {
      throw new BananaError(`Security precaution: longer than ${limit} bytes worth of prefix`);
    }
    const type = b[pos]!;
    const headerStart = this.#start;
    const rest = pos + 1;
    switch (type) {
      case LIST: {
        const n = this.#smallHeader(headerStart, headerLength);
        if (n > this.limits.maxItemLength) {
          throw new BananaError("Security precaution: List too long.");
        }
        this.#take(rest);
        this.#opened = n;
        return OPENED;
      }
      case STRING: {
        const n = this.#smallHeader(headerStart, headerLength);
        if (n > this.limits.maxItemLength) {
          throw new BananaError("Security precaution: String too long.");
        }
        if (end - rest < n) {
          return INCOMPLETE;
        }
        // short ASCII strings (type names, keys, most text) as strings, from a cache; the rest as bytes
        this.#value = (n <= 24 ? asciiToken(b, rest, n) : undefined) ?? b.slice(rest, rest + n);
        this.#take(rest + n);
        return VALUE;
      }
      case INT:
      case LONGINT: {
        this.#value = this.#header(headerStart, headerLength);
        this.#take(rest);
        return VALUE;
      }
      case NEG:
      case LONGNEG: {
        const n = this.#header(headerStart, headerLength);
        this.#take(rest);
        this.#value = typeof n === "bigint" ? normalize(-n) : n === 0 ? 0 : -n;
        return VALUE;
      }
      case FLOAT: {
        if (end - rest < 8) {
          return INCOMPLETE;
        }
        this.#value = new BananaFloat(this.#view.getFloat64(rest, false));
        this.#take(rest + 8);
        return VALUE;
      }
      case VOCAB: {
        const n = this.#smallHeader(headerStart, headerLength);
        if (this.dialect !== "pb") {
          throw new BananaError(`Invalid item for pb protocol: VOCAB ${n} in the none dialect`);
        }
        const word = n >= 1 && n < VOCABULARY.length ? VOCABULARY[n] : undefined;
        if (word === undefined) {
          throw new BananaError(`Unknown vocabulary index ${n}`);
        }
        this.#take(rest);
        this.#value = word;
        return VALUE;
      }
      default:
        throw new BananaError(`Invalid Type Byte 0x${type.toString(16).padStart(2, "0")}`);
    }
  }

  /** A header that must fit a safe integer (lengths, vocabulary indexes): anything larger is simply too long. */
  #smallHeader(start: number, length: number): number {
    const n = this.#header(start, length);
    return typeof n === "bigint" ? Number.MAX_SAFE_INTEGER : n;
  }

  /** The base-128 header value: a number when safe, else a bigint. */
  #header(start: number, length: number): number | bigint {
    const b = this.#buffer;
    if (length === 1) {
      return b[start]!;
    }
    if (length <= 7) {
      let n = 0;
      for (let i = length - 1; i >= 0; i--) {
        n = n * 128 + b[start + i]!;
      }
      return n;
    }
    let n = 0n;
    for (let i = length - 1; i >= 0; i--) {
      n = (n << 7n) | BigInt(b[start + i]!);
    }
    return normalize(n);
  }
}

function normalize(n: bigint): number | bigint {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** Decodes bytes holding whole s-expressions (a test helper and a one-shot decoder). */
export function decodeBanana(bytes: Uint8Array, dialect: BananaDialect = "none", limits: BananaLimits = DEFAULT_BANANA_LIMITS): BananaValue[] {
  return new BananaParser(dialect, limits).feed(bytes);
}
