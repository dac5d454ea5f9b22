/// <reference lib="esnext.disposable" preserve="true" />
import type { PbValue } from "../jelly/JellyValues.js";

/** The broker side of a held cache (keeps flavors free of the broker). */
export interface CacheHolder {
  decache(luid: number): void;
}

/**
 * The peer's live copy of its `Cacheable` (Twisted's `pb.RemoteCache`): register the class under the owner's tag on
 * the {@link JellyRegistry}; the owner's updates call its `observe_<name>` methods. `dispose()` tells the owner the
 * copy is no longer used (decache), after which it stops observing.
 */
export class RemoteCache implements Disposable {
  /** @internal */ _holder: CacheHolder | undefined;
  /** @internal */ _luid = 0;

  /** Takes the owner's state. By default sets the fields of the same names. */
  setCopyableState(state: Record<string, PbValue>): void {
    for (const [key, value] of Object.entries(state)) {
      if (key !== "__proto__" && key !== "constructor" && !key.startsWith("_")) {
        (this as unknown as Record<string, PbValue>)[key] = value;
      }
    }
  }

  /** Releases this copy (decache), once. */
  dispose(): void {
    const holder = this._holder;
    this._holder = undefined;
    holder?.decache(this._luid);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
