import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BananaFloat, type BananaValue } from "../../src/Pb.Js.Client/src/index.js";

/** A vector file of tests/TestVectors (made with real Twisted 22.4 by gen_vectors.py). */
export function loadVectors(name: string): Record<string, unknown> {
  const path = fileURLToPath(new URL(`../TestVectors/${name}`, import.meta.url));
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

export interface Summary {
  readonly length: number;
  readonly sha256: string;
  readonly prefix_hex: string;
}

/** A byte-exact expectation: hex, or (for long byte strings) length, SHA-256 and prefix. */
export type HexField = string | Summary;

export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Checks bytes against a hex field; returns a description of the difference, or null when equal. */
export function differs(bytes: Uint8Array, expected: HexField): string | null {
  if (typeof expected === "string") {
    const actual = toHex(bytes);
    return actual === expected ? null : `expected ${expected}, got ${actual}`;
  }
  const sha = createHash("sha256").update(bytes).digest("hex");
  return bytes.length === expected.length && sha === expected.sha256 ? null : `expected ${expected.length} bytes ${expected.sha256}, got ${bytes.length} bytes ${sha}`;
}

/** The bytes a hex field stands for (a summary of zero bytes is rebuilt, as the vector's description says). */
export function bytesOf(field: HexField): Uint8Array {
  if (typeof field === "string") {
    return fromHex(field);
  }
  const bytes = new Uint8Array(field.length);
  bytes.set(fromHex(field.prefix_hex));
  return bytes;
}

/** The vectors' byte-safe JSON tree form as a banana value. */
export function treeOf(node: unknown): BananaValue {
  if (typeof node === "number") {
    return node;
  }
  if (typeof node === "string") {
    return Uint8Array.from(node, (c) => c.charCodeAt(0));
  }
  if (Array.isArray(node)) {
    return node.map(treeOf);
  }
  const o = node as Record<string, unknown>;
  if (typeof o.hex === "string") {
    return fromHex(o.hex);
  }
  if (typeof o.int === "string") {
    const n = BigInt(o.int);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  if (typeof o.float === "string") {
    return new BananaFloat(Number(o.float));
  }
  if (o.bytes_summary !== undefined) {
    // The generator's long byte strings are zeros or byte[i] = i % 256 (their descriptions say which); the prefix tells.
    const s = o.bytes_summary as Summary;
    const counting = s.prefix_hex.startsWith("000102");
    return Uint8Array.from({ length: s.length }, (_, i) => (counting ? i % 256 : 0));
  }
  throw new Error(`unknown vector node ${JSON.stringify(node)}`);
}
