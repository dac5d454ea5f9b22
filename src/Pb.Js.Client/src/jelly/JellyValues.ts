/**
 * The JavaScript side of jelly's value kinds, where JavaScript has no type of its own (see the package README's
 * mapping table): tuples, frozensets, Python's date and time types, decimals and unpersistables.
 */

/** A Python tuple. */
export class Tuple {
  constructor(readonly items: PbValue[] = []) {}
}

/** A Python frozenset (a `Set` is a Python set). */
export class FrozenSet {
  constructor(readonly items: PbValue[] = []) {}
}

/** A naive `datetime.datetime` with every field kept (microseconds included). */
export class PbDateTime {
  constructor(readonly year: number, readonly month: number, readonly day: number, readonly hour = 0, readonly minute = 0, readonly second = 0, readonly microsecond = 0) {}
}

/** A `datetime.date`. */
export class PbDate {
  constructor(readonly year: number, readonly month: number, readonly day: number) {}
}

/** A naive `datetime.time`. */
export class PbTime {
  constructor(readonly hour: number, readonly minute: number, readonly second: number, readonly microsecond = 0) {}
}

/** A `datetime.timedelta` as Python normalizes it (days may be negative; 0 <= seconds < 86400; 0 <= microseconds < 10**6). */
export class PbTimedelta {
  constructor(readonly days: number, readonly seconds: number, readonly microseconds: number) {}
}

/** A `decimal.Decimal` of any size: coefficient × 10**exponent, every digit kept (-0 keeps its sign). */
export class PbDecimal {
  constructor(readonly coefficient: bigint, readonly exponent: number, readonly negativeZero = false) {}
}

/** A value the peer could not send (Twisted's `Unpersistable`), with its reason. */
export class Unpersistable {
  constructor(readonly reason: string) {}
}

/** A number to send as a float even when it is integral (JavaScript cannot tell 1 from 1.0). */
export class AsFloat {
  constructor(readonly value: number) {}
}

/**
 * A class the peer sends by copy (Twisted's `RemoteCopy`): made blank with `new`, then given its state by its
 * `setCopyableState(state)` method when it has one, else by setting its own fields.
 */
export interface RemoteCopyClass {
  new (): object;
}

/** Every value jelly carries. */
export type PbValue =
  | null | boolean | number | bigint | string | Uint8Array
  | PbValue[] | Tuple | FrozenSet | Set<PbValue> | Map<PbValue, PbValue> | { [key: string]: PbValue }
  | PbDateTime | PbDate | PbTime | PbTimedelta | PbDecimal | Unpersistable | AsFloat | object;

/**
 * The broker's side of jelly (the remote/local atoms): objects that travel by reference, and the atoms that name them.
 * Jelly knows nothing of connections; the broker implements this.
 */
export interface JellyContext {
  /** A tree for `value` when it travels by reference (`["remote", id]`, `["local", id]`), else undefined. */
  jellyReference(value: object): BananaTree | undefined;
  /** The value an atom names (`remote`, `local`), or undefined when the atom is not the broker's. */
  unjellyAtom(kind: string, rest: readonly BananaTree[]): PbValue | undefined;
  /** A registered class arrived as a cache (`[tag, luid, state]`): the broker holds it under `luid`; false refuses it. */
  holdCache(luid: number, copy: object): boolean;
}

/** A banana tree as jelly sees it. */
export type BananaTree = import("../banana/BananaTypes.js").BananaValue;

/** Jelly refused a value: an unregistered class, an atom that is not allowed, a malformed tree. */
export class JellyError extends Error {
  override readonly name = "JellyError";
}
