/**
 * An object the peer can call (Twisted's `pb.Referenceable`): it travels as a reference, and its methods named
 * `remote_<name>` are what the peer calls as `<name>` (Twisted's prefix): `remote_notify(text) { ... }`.
 */
export class Referenceable {}
