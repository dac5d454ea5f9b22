import type { RemoteCopyClass } from "./JellyValues.js";

/**
 * The allow-list of copied classes, per client (never process-global): a class the peer sends is made only when its
 * tag is registered here, and an instance of a registered class goes out as `[tag, state]`.
 */
export class JellyRegistry {
  readonly #byTag = new Map<string, RemoteCopyClass>();
  readonly #byClass = new Map<RemoteCopyClass, string>();

  /** A registry of its own that also knows every class of `parent` (which it never changes). */
  constructor(private readonly parent?: JellyRegistry) {}

  /** Registers `type` under the peer's class name (`"myapp.Point"`), both ways. */
  add(tag: string, type: RemoteCopyClass): this {
    this.#byTag.set(tag, type);
    this.#byClass.set(type, tag);
    return this;
  }

  /** The class registered for `tag`, if any. */
  find(tag: string): RemoteCopyClass | undefined {
    return this.#byTag.get(tag) ?? this.parent?.find(tag);
  }

  /** The tag of an instance's class, if it is registered. */
  tagOf(value: object): string | undefined {
    return this.#byClass.get(value.constructor as RemoteCopyClass) ?? this.parent?.tagOf(value);
  }
}
