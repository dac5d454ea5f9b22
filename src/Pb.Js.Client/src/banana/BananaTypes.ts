/**
 * Banana's wire words (Twisted's `twisted/spread/banana.py`): every item is a base-128 header (little-endian 7-bit
 * digits, bytes below 0x80) followed by one type byte.
 *
 * Worked examples (dialect `none`):
 * - `1` is `01 81` (header 1, INT); `-1` is `01 83` (NEG); `128` is `00 01 81` (digits 0, 1).
 * - `b"foo"` is `03 82 66 6f 6f` (header = length, STRING, then the bytes).
 * - `[1, 2]` is `02 80 01 81 02 81` (header = item count, LIST, then the items).
 * - `1.5` is `84 3f f8 00 00 00 00 00 00` (FLOAT, no header, 8 bytes big-endian IEEE 754).
 * In dialect `pb`, byte strings of the PB vocabulary go as VOCAB: `b"version"` is `13 87`.
 */
export const LIST = 0x80;
export const INT = 0x81;
export const STRING = 0x82;
export const NEG = 0x83;
export const FLOAT = 0x84;
export const LONGINT = 0x85;
export const LONGNEG = 0x86;
export const VOCAB = 0x87;

/** The two dialects: `none` (plain banana) and `pb` (vocabulary words shortened to VOCAB). */
export type BananaDialect = "none" | "pb";

/** A banana float: kept apart from integers, which JavaScript numbers cannot tell from integral floats. */
export class BananaFloat {
  constructor(readonly value: number) {}
}

/**
 * A banana s-expression: integers (a `number` when safe, a `bigint` beyond), floats, byte strings and lists of these.
 * A `string` stands for its UTF-8 bytes: the writer sends text so (the jellier makes text so), and the parser gives
 * short all-ASCII byte strings and vocabulary words so (their bytes are exactly those characters); other byte strings
 * are `Uint8Array`.
 */
export type BananaValue = number | bigint | BananaFloat | Uint8Array | string | BananaValue[];

/** The PB vocabulary (Twisted's `pb.Broker` dialect), index to word; index 0 is unused. */
export const VOCABULARY: readonly string[] = [
  "", "None", "class", "dereference", "reference", "dictionary", "function", "instance", "list", "module",
  "persistent", "tuple", "unpersistable", "copy", "cache", "cached", "remote", "local", "lcache", "version",
  "login", "password", "challenge", "logged_in", "not_logged_in", "cachemessage", "message", "answer", "error",
  "decref", "decache", "uncache",
];

/** A banana stream broke a rule or a limit; the connection that carried it is closed. */
export class BananaError extends Error {
  override readonly name = "BananaError";
}

/**
 * Limits on everything banana reads from the network. Each default says the threat it guards against.
 */
export interface BananaLimits {
  /** Items of one list and bytes of one string. Default 655,360 (Twisted's SIZE_LIMIT). Threat: one huge allocation from a few header bytes. */
  readonly maxItemLength: number;
  /** Header bytes before a type byte. Default 64 (Twisted's prefix limit; ints up to 2**448). Threat: endless headers and huge numbers. */
  readonly maxHeaderLength: number;
  /** Lists inside lists. Default 512 (Twisted has none). Threat: stack exhaustion and deep recursion in later layers. */
  readonly maxDepth: number;
  /** Bytes of one top-level message. Default 16 MiB (Twisted has none). Threat: memory held by a message that never ends. */
  readonly maxMessageSize: number;
}

/** The defaults of {@link BananaLimits}, the same as the C# server's. */
export const DEFAULT_BANANA_LIMITS: BananaLimits = Object.freeze({
  maxItemLength: 640 * 1024,
  maxHeaderLength: 64,
  maxDepth: 512,
  maxMessageSize: 16 * 1024 * 1024,
});
