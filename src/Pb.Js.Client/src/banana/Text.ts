// Text to and from banana byte strings, fast for what PB sends most: short ASCII words and names. Internal.

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** The UTF-8 text of `bytes`; throws TypeError when they are not UTF-8. Short ASCII skips TextDecoder's call cost. */
export function decodeUtf8(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n <= 32) {
    let s = "";
    for (let i = 0; i < n; i++) {
      const b = bytes[i]!;
      if (b >= 0x80) {
        return decoder.decode(bytes);
      }
      s += String.fromCharCode(b);
    }
    return s;
  }
  return decoder.decode(bytes);
}

/** A short byte string (a type name) as Latin-1 text. */
export function latin1(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

// A direct-mapped cache of short ASCII strings by a hash of their bytes: one slot per hash value modulo its size, the
// newest string wins. Bounded, whatever the peer sends.
const CACHE_SIZE = 4096;
const words: string[] = new Array<string>(CACHE_SIZE).fill(""); // empty slots hold "" for the empty bytes below
const wordBytes: Uint8Array[] = new Array<Uint8Array>(CACHE_SIZE).fill(new Uint8Array(0)); // each slot's bytes, to compare

/**
 * A short byte string read straight from a buffer as text when every byte is ASCII (so its UTF-8 bytes are exactly
 * those bytes): the same string object each time for the same bytes, so a tree's thousand "unicode" heads and keys
 * cost a hash each, not a new string; undefined for anything else, which stays bytes.
 */
export function asciiToken(buffer: Uint8Array, start: number, length: number): string | undefined {
  let hash = length;
  for (let i = start; i < start + length; i++) {
    const b = buffer[i]!;
    if (b >= 0x80) {
      return undefined;
    }
    hash = (Math.imul(hash, 31) + b) | 0;
  }
  const slot = hash & (CACHE_SIZE - 1);
  const known = wordBytes[slot]!;
  if (known.length === length) {
    let same = true;
    for (let i = 0; i < length && same; i++) same = known[i] === buffer[start + i];
    if (same) {
      return words[slot]!;
    }
  }
  const bytes = buffer.slice(start, start + length);
  const s = latin1(bytes);
  words[slot] = s;
  wordBytes[slot] = bytes;
  return s;
}

/** The UTF-8 bytes of `text`. */
export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** How many bytes `text` takes in UTF-8 (a lone surrogate as U+FFFD, as TextEncoder writes it). */
export function utf8Length(text: string): number {
  let bytes = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else {
      bytes += 3;
    }
  }
  return bytes;
}

/** Writes `text` as UTF-8 at `offset` (room for `length` = utf8Length(text) bytes is there). */
export function writeUtf8(text: string, target: Uint8Array, offset: number, length: number): void {
  if (length === text.length) {
    for (let i = 0; i < length; i++) target[offset + i] = text.charCodeAt(i);
  } else {
    encoder.encodeInto(text, target.subarray(offset, offset + length));
  }
}
