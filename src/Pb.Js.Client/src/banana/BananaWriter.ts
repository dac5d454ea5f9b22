import {
  BananaError, BananaFloat, FLOAT, INT, LIST, LONGINT, LONGNEG, NEG, STRING, VOCAB, VOCABULARY,
  type BananaDialect, type BananaValue,
} from "./BananaTypes.js";

const LARGEST_INT = 2 ** 31 - 1;
const SMALLEST_INT = -(2 ** 31);
const encoder = new TextEncoder();
const vocabularyIds = new Map<string, number>(VOCABULARY.map((word, i) => [word, i] as const).slice(1));

/** Writes banana into a growing buffer; `finish()` returns the bytes written. */
export class BananaWriter {
  #buffer: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(readonly dialect: BananaDialect = "none", initialSize = 256, private readonly maxHeaderLength = 64) {
    this.#buffer = new Uint8Array(initialSize);
    this.#view = new DataView(this.#buffer.buffer);
  }

  /** The bytes written so far (a view, valid until the next write). */
  finish(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  /** Encodes one s-expression. Throws {@link BananaError} for values banana cannot carry. */
  write(value: BananaValue, maxItemLength = 640 * 1024): void {
    if (Array.isArray(value)) {
      if (value.length > maxItemLength) {
        throw new BananaError(`list/tuple is too long to send (${value.length})`);
      }
      this.#header(value.length, LIST);
      for (const item of value) {
        this.write(item, maxItemLength);
      }
    } else if (value instanceof Uint8Array) {
      const word = this.dialect === "pb" && value.length <= 13 ? vocabularyIds.get(latin1(value)) : undefined;
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
      this.#reserve(9);
      this.#buffer[this.#length++] = FLOAT;
      this.#view.setFloat64(this.#length, value.value, false);
      this.#length += 8;
    } else if (typeof value === "number") {
      if (!Number.isInteger(value)) {
        throw new BananaError(`not an integer: ${value} (send floats as BananaFloat)`);
      }
      if (Number.isSafeInteger(value)) {
        if (value < SMALLEST_INT) {
          this.#header(-value, LONGNEG);
        } else if (value < 0) {
          this.#header(-value, NEG);
        } else {
          this.#header(value, value <= LARGEST_INT ? INT : LONGINT);
        }
      } else {
        this.write(BigInt(value), maxItemLength);
      }
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

  #header(n: number, type: number): void {
    this.#reserve(11);
    if (n === 0) {
      this.#buffer[this.#length++] = 0;
    }
    while (n > 0) {
      this.#buffer[this.#length++] = n % 128;
      n = Math.floor(n / 128);
    }
    this.#buffer[this.#length++] = type;
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

/** Byte string as text for vocabulary lookup (vocabulary words are ASCII). */
function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    s += String.fromCharCode(b);
  }
  return s;
}

/** The UTF-8 bytes of a string (byte strings on the wire are `Uint8Array`). */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}
