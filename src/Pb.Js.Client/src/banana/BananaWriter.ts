import {
  BananaError, BananaFloat, FLOAT, INT, LIST, LONGINT, LONGNEG, NEG, STRING, VOCAB, VOCABULARY,
  type BananaDialect, type BananaValue,
} from "./BananaTypes.js";
import { latin1, utf8Length, writeUtf8 } from "./Text.js";

const LARGEST_INT = 2 ** 31 - 1;
const SMALLEST_INT = -(2 ** 31);
const vocabularyIds = new Map<string, number>(VOCABULARY.map((word, i) => [word, i] as const).slice(1));
// (length, first character) of every vocabulary word: most strings are ruled out by one array read, not a Map lookup
const vocabularyShape = new Uint8Array(14 * 128);
for (const word of VOCABULARY.slice(1)) vocabularyShape[word.length * 128 + word.charCodeAt(0)] = 1;
const mayBeWord = (text: string): boolean => {
  const n = text.length;
  return n >= 4 && n <= 13 && text !== "unicode" && vocabularyShape[n * 128 + (text.charCodeAt(0) & 127)] === 1;
};

/** Writes banana into a growing buffer; `finish()` returns the bytes written. */
export class BananaWriter {
  #buffer: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(readonly dialect: BananaDialect = "none", initialSize = 256, private readonly maxHeaderLength = 64) {
    this.#buffer = new Uint8Array(initialSize);
    this.#view = new DataView(this.#buffer.buffer);
  }

  /** How many bytes are written. */
  get length(): number {
    return this.#length;
  }

  /** Forgets what was written after the first `length` bytes (a message that failed half way). */
  truncate(length: number): void {
    if (length < 0 || length > this.#length) {
      throw new RangeError(`cannot truncate ${this.#length} bytes to ${length}`);
    }
    this.#length = length;
  }

  /** Starts again at the beginning of the same buffer. */
  reset(): void {
    this.#length = 0;
  }

  /** The bytes written so far (a view, valid until the next write). */
  finish(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  /** Encodes one s-expression. Throws {@link BananaError} for values banana cannot carry. */
  write(value: BananaValue, maxItemLength = 640 * 1024): void {
    if (Array.isArray(value)) {
      const n = value.length;
      if (n > maxItemLength) {
        throw new BananaError(`list/tuple is too long to send (${n})`);
      }
      this.#header(n, LIST);
      for (let i = 0; i < n; i++) {
        this.write(value[i]!, maxItemLength);
      }
    } else if (typeof value === "number") {
      if (!Number.isInteger(value)) {
        throw new BananaError(`not an integer: ${value} (send floats as BananaFloat)`);
      }
      if (value >= 0 && value <= LARGEST_INT) {
        this.#header(value, INT);
      } else if (Number.isSafeInteger(value)) {
        if (value < SMALLEST_INT) {
          this.#header(-value, LONGNEG);
        } else if (value < 0) {
          this.#header(-value, NEG);
        } else {
          this.#header(value, LONGINT);
        }
      } else {
        this.write(BigInt(value), maxItemLength);
      }
    } else if (typeof value === "string") {
      this.text(value, maxItemLength);
    } else if (value instanceof Uint8Array) {
      const word = this.dialect === "pb" && value.length <= 13 && value.length >= 4 ? vocabularyIds.get(latin1(value)) : undefined;
      if (word !== undefined) {
        this.#header(word, VOCAB);
        return;
      }
      if (value.length > maxItemLength) {
        throw new BananaError(`byte string is too long to send (${value.length})`);
      }
      this.#header(value.length, STRING);
      this.#reserve(value.length);
      this.#buffer.set(value, this.#length);
      this.#length += value.length;
    } else if (value instanceof BananaFloat) {
      this.float(value.value);
    } else if (typeof value === "bigint") {
      const magnitude = value < 0n ? -value : value;
      if (magnitude >= 1n << BigInt(7 * this.maxHeaderLength)) {
        throw new BananaError(`int is too large to send (${value})`);
      }
      if (value >= BigInt(SMALLEST_INT) && value <= BigInt(LARGEST_INT)) {
        this.write(Number(value), maxItemLength);
        return;
      }
      this.#bigHeader(magnitude);
      this.#reserve(1);
      this.#buffer[this.#length++] = value < 0n ? LONGNEG : LONGINT;
    } else {
      throw new BananaError(`Banana cannot send ${typeof value} values`);
    }
  }

  /** Text as its UTF-8 bytes (a vocabulary word as VOCAB in the pb dialect). */
  text(value: string, maxItemLength = 640 * 1024): void {
    const word = this.dialect === "pb" && mayBeWord(value) ? vocabularyIds.get(value) : undefined;
    if (word !== undefined) {
      this.#header(word, VOCAB);
      return;
    }
    const length = utf8Length(value); // === value.length exactly when it is ASCII (written byte by byte then)
    if (length > maxItemLength) {
      throw new BananaError(`byte string is too long to send (${length})`);
    }
    this.#header(length, STRING);
    this.#reserve(length);
    writeUtf8(value, this.#buffer, this.#length, length);
    this.#length += length;
  }

  /** A list header: its `n` items follow. */
  list(n: number): void {
    this.#header(n, LIST);
  }

  float(value: number): void {
    this.#reserve(9);
    this.#buffer[this.#length++] = FLOAT;
    this.#view.setFloat64(this.#length, value, false);
    this.#length += 8;
  }

  /** Bytes already in banana (a prefix encoded once). */
  raw(bytes: Uint8Array): void {
    const n = bytes.length;
    this.#reserve(n);
    const b = this.#buffer;
    const at = this.#length;
    for (let i = 0; i < n; i++) b[at + i] = bytes[i]!; // short: a loop costs less than set()
    this.#length = at + n;
  }

  #header(n: number, type: number): void {
    this.#reserve(11);
    const b = this.#buffer;
    let at = this.#length;
    if (n < 128) {
      b[at++] = n; // one header byte: most lengths and ints
    } else {
      while (n > 0) {
        b[at++] = n % 128;
        n = Math.floor(n / 128);
      }
    }
    b[at++] = type;
    this.#length = at;
  }

  #bigHeader(n: bigint): void {
    while (n > 0n) {
      this.#reserve(1);
      this.#buffer[this.#length++] = Number(n & 0x7fn);
      n >>= 7n;
    }
  }

  #reserve(count: number): void {
    if (this.#length + count <= this.#buffer.length) {
      return;
    }
    let size = this.#buffer.length * 2;
    while (size < this.#length + count) {
      size *= 2;
    }
    const grown = new Uint8Array(size);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
  }
}

/** Encodes one s-expression on its own. */
export function encodeBanana(value: BananaValue, dialect: BananaDialect = "none"): Uint8Array {
  const writer = new BananaWriter(dialect);
  writer.write(value);
  return writer.finish().slice();
}
