import { FLOAT, INT, LIST, LONGINT, LONGNEG, NEG, STRING, VOCAB, VOCABULARY, type BananaLimits } from "../banana/BananaTypes.js";
import type { BananaWriter } from "../banana/BananaWriter.js";
import { asciiToken, decodeUtf8 } from "../banana/Text.js";
import { AsFloat, Tuple, type PbValue } from "./JellyValues.js";

// Jelly of plain values (None, booleans, numbers, text, bytes, lists, tuples, dicts with text keys) read straight from
// banana bytes and written straight into them, with no tree of banana items in between: what most calls and answers
// carry. Anything else (a reference, a shared or cyclic value, a copied class, a limit reached, a message not all
// here) gives way to the tree path at the start of its message, which reads or writes it as before, errors included.
// Internal.

/** What a plain read stops at: the tree path takes the message instead. */
const OTHER = Symbol("other");
type Read = PbValue | typeof OTHER;

/** A message read whole: an answer to one of our calls, or a call (message, cachemessage) on one of our objects. */
export type PlainMessage =
  | { readonly command: "answer"; readonly id: number; readonly value: PbValue }
  | { readonly command: "message" | "cachemessage"; readonly id: number; readonly objectId: number; readonly method: string; readonly answerRequired: boolean; readonly args: PbValue[] };

/** Where the last successful {@link readPlainMessage} stopped. */
export let plainEnd = 0;

// The vocabulary words a plain read knows (it reads the pb dialect: the none dialect takes the tree path)
const NONE = VOCABULARY.indexOf("None");
const LIST_WORD = VOCABULARY.indexOf("list");
const TUPLE_WORD = VOCABULARY.indexOf("tuple");
const DICTIONARY_WORD = VOCABULARY.indexOf("dictionary");
const ANSWER = VOCABULARY.indexOf("answer");
const MESSAGE = VOCABULARY.indexOf("message");
const CACHE_MESSAGE = VOCABULARY.indexOf("cachemessage");

// ["unicode", ...], a dict entry's [["unicode", ...] and ["boolean", ...]: the same bytes in both dialects (neither word
// is in the vocabulary)
const ascii = (word: string): number[] => [word.length, STRING, ...Array.from(word, (c) => c.charCodeAt(0))];
const UNICODE = Uint8Array.of(2, LIST, ...ascii("unicode"));
const ENTRY = Uint8Array.of(2, LIST, ...UNICODE);
const BOOLEAN = Uint8Array.of(2, LIST, ...ascii("boolean"));

/**
 * The PB message at `start` (pb dialect) when it is wholly in `b[start, end)` and every value it carries is plain;
 * undefined (consuming nothing) otherwise.
 */
export function readPlainMessage(b: Uint8Array, start: number, end: number, limits: BananaLimits): PlainMessage | undefined {
  let pos = start;
  let n = 0;
  const maxHeader = Math.min(limits.maxHeaderLength, 8); // up to 8 digits, taken when the number is safe
  const { maxItemLength, maxDepth } = limits;
  let view: DataView | undefined;
  /** Reads one header: its type byte (n holds its number), or 0 when it is not all here or not a small number. */
  const header = (): number => {
    n = 0;
    let scale = 1;
    const headerEnd = pos + maxHeader;
    let c: number;
    while ((c = b[pos]!) < 0x80) {
      if (pos >= end || pos >= headerEnd) {
        return 0;
      }
      n += c * scale;
      scale *= 128;
      pos++;
    }
    if (pos >= end || n > Number.MAX_SAFE_INTEGER) {
      return 0;
    }
    pos++;
    return c;
  };
  /** Whether the bytes at pos are `prefix` (then skipped). */
  const skip = (prefix: Uint8Array, from: number): boolean => {
    const length = prefix.length - from;
    if (end - pos < length) {
      return false;
    }
    for (let i = 0; i < length; i++) {
      if (b[pos + i] !== prefix[from + i]) {
        return false;
      }
    }
    pos += length;
    return true;
  };
  /** A byte string's text: short ASCII from the shared cache, else UTF-8 (undefined when it is not UTF-8). */
  const text = (): string | undefined => {
    const type = header();
    if (type === VOCAB) {
      return n > 0 ? VOCABULARY[n] : undefined; // a vocabulary word sent as text ("list")
    }
    if (type !== STRING || n > end - pos || n > maxItemLength) {
      return undefined;
    }
    const at = pos;
    pos += n;
    if (n <= 24) {
      const word = asciiToken(b, at, n);
      if (word !== undefined) {
        return word;
      }
    }
    try {
      return decodeUtf8(b.subarray(at, pos));
    } catch {
      return undefined;
    }
  };
  const value = (depth: number): Read => {
    const type = header();
    switch (type) {
      case INT:
      case LONGINT:
        return n;
      case NEG:
      case LONGNEG:
        return n === 0 ? 0 : -n;
      case FLOAT:
        if (end - pos < 8) {
          return OTHER;
        }
        pos += 8;
        return (view ??= new DataView(b.buffer, b.byteOffset, b.byteLength)).getFloat64(pos - 8, false);
      case STRING:
        if (n > end - pos || n > maxItemLength) {
          return OTHER;
        }
        pos += n;
        return b.slice(pos - n, pos);
      case LIST:
        break;
      default:
        return OTHER;
    }
    if (n === 2 && skip(UNICODE, 2)) {
      return text() ?? OTHER;
    }
    if (n === 2 && skip(BOOLEAN, 2)) {
      const word = text();
      return word === "true" ? true : word === "false" ? false : OTHER;
    }
    const count = n - 1; // items after the type word
    if (count < 0 || count > end - pos || n > maxItemLength || depth >= maxDepth || header() !== VOCAB) {
      return OTHER;
    }
    const k = n;
    if (k === LIST_WORD || k === TUPLE_WORD) {
      const items = new Array<PbValue>(count);
      for (let i = 0; i < count; i++) {
        const item = value(depth + 1);
        if (item === OTHER) {
          return OTHER;
        }
        items[i] = item;
      }
      return k === LIST_WORD ? items : new Tuple(items);
    }
    if (k === DICTIONARY_WORD) {
      const object = Object.create(null) as Record<string, PbValue>;
      for (let i = 0; i < count; i++) {
        // [["unicode", key], value]
        const name = depth + 2 < maxDepth && skip(ENTRY, 0) ? text() : undefined;
        const item = name === undefined ? OTHER : value(depth + 2);
        if (item === OTHER) {
          return OTHER;
        }
        object[name!] = item;
      }
      return object;
    }
    return k === NONE && count === 0 ? null : OTHER;
  };

  // [command, id, ...]: answer id value | message id objectId method answerRequired args kwargs
  if (header() !== LIST) {
    return undefined;
  }
  const size = n;
  const word = header() === VOCAB ? n : 0;
  if ((word !== ANSWER && word !== MESSAGE && word !== CACHE_MESSAGE) || header() !== INT) {
    return undefined;
  }
  const command = VOCABULARY[word] as PlainMessage["command"];
  const id = n;
  let message: PlainMessage | undefined;
  if (command === "answer") {
    const answer = size === 3 ? value(1) : OTHER;
    message = answer === OTHER ? undefined : { command, id, value: answer };
  } else if (size === 7 && header() === INT) {
    const objectId = n;
    const method = text();
    const answerRequired = header() === INT ? n : -1;
    const args = method !== undefined && answerRequired >= 0 ? value(1) : OTHER;
    const kwargs = args instanceof Tuple ? value(1) : OTHER;
    if (kwargs !== OTHER && args instanceof Tuple) {
      message = { command, id, objectId, method: method!, answerRequired: answerRequired === 1, args: args.items };
    }
  }
  if (message !== undefined) {
    plainEnd = pos;
  }
  return message;
}

const MAX_ITEMS = 640 * 1024; // the writer's own limit: a longer list goes to the tree path, which refuses it

/**
 * Writes `value` as jelly straight into `w`, as the tree path (Jellier, then BananaWriter) would write it; false (with
 * part of it written: the caller truncates) for anything that is not plain or is met twice (a shared value or a cycle,
 * which jelly writes as references).
 */
export function writePlain(w: BananaWriter, value: PbValue | undefined, seen: Set<object>, depth: number): boolean {
  if (value === null || value === undefined) {
    w.list(1);
    w.text("None");
    return true;
  }
  switch (typeof value) {
    case "boolean":
      w.list(2);
      w.text("boolean");
      w.text(value ? "true" : "false");
      return true;
    case "number":
      if (Number.isInteger(value) && !Object.is(value, -0)) {
        w.write(value);
      } else {
        w.float(value);
      }
      return true;
    case "bigint":
      w.write(value);
      return true;
    case "string":
      w.raw(UNICODE);
      w.text(value);
      return true;
    case "object":
      break;
    default:
      return false;
  }
  if (value instanceof AsFloat) {
    w.float(value.value);
    return true;
  }
  if (depth > 256 || seen.has(value)) {
    return false;
  }
  seen.add(value);
  const items = Array.isArray(value) ? (value as PbValue[]) : value instanceof Tuple ? value.items : undefined;
  if (items !== undefined) {
    if (items.length >= MAX_ITEMS) {
      return false;
    }
    w.list(items.length + 1);
    w.text(items === value ? "list" : "tuple");
    for (let i = 0; i < items.length; i++) {
      if (!writePlain(w, items[i], seen, depth + 1)) {
        return false;
      }
    }
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== null && proto !== Object.prototype) {
    return false;
  }
  const object = value as Record<string, PbValue>;
  const keys = Object.keys(object); // the own enumerable keys, in for-in's order (the Jellier's)
  if (keys.length >= MAX_ITEMS) {
    return false;
  }
  w.list(keys.length + 1);
  w.text("dictionary");
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    w.raw(ENTRY);
    w.text(key);
    if (!writePlain(w, object[key], seen, depth + 1)) {
      return false;
    }
  }
  return true;
}
