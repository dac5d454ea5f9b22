import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BananaWriter } from "../../src/Pb.Js.Client/src/banana/BananaWriter.js";
import { DEFAULT_BANANA_LIMITS } from "../../src/Pb.Js.Client/src/banana/BananaTypes.js";
import { plainEnd, readPlainMessage, writePlain } from "../../src/Pb.Js.Client/src/jelly/PlainJelly.js";
import {
  AsFloat, FrozenSet, PbDate, Tuple, decodeBanana, encodeBanana, jelly, unjelly, type PbValue,
} from "../../src/Pb.Js.Client/src/index.js";

// The plain path (values read and written straight from and to banana bytes) must agree byte for byte and value for
// value with the tree path (Jellier + BananaWriter, BananaParser + Unjellier), and give way to it for everything else.

const text = fc.string({ unit: "binary", maxLength: 40 });
const plain: fc.Arbitrary<PbValue> = fc.letrec<{ v: PbValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noInteger: true }),
    fc.constantFrom(-0, 0.5, Number.NaN, Number.POSITIVE_INFINITY),
    text,
    fc.constantFrom("list", "dictionary", "None", "unicode", "boolean", "answer", "__proto__"), // words of the vocabulary and others
    fc.array(tie("v"), { maxLength: 5 }),
    fc.array(tie("v"), { maxLength: 4 }).map((items) => new Tuple(items)),
    fc.dictionary(text, tie("v"), { maxKeys: 4 }).map((o) => Object.assign(Object.create(null) as Record<string, PbValue>, o)),
  ),
})).v;
/** Plain values and the rest: bytes, big integers, sets, dates, shared and cyclic values. */
const any: fc.Arbitrary<PbValue> = fc.oneof(
  plain,
  fc.uint8Array({ maxLength: 8 }),
  fc.bigInt({ min: -(1n << 80n), max: 1n << 80n }),
  plain.map((v) => new AsFloat(typeof v === "number" ? v : 1)),
  fc.array(plain, { maxLength: 3 }).map((items) => [new FrozenSet(items), new Set(items), new PbDate(2024, 2, 29)]),
  fc.array(plain, { maxLength: 3 }).map((items) => [items, items]), // shared
  fc.constant(null).map(() => { const cycle: PbValue[] = []; cycle.push(cycle); return cycle; }),
);
const dialect = fc.constantFrom("none" as const, "pb" as const);

function treeBytes(message: PbValue[], d: "none" | "pb"): Uint8Array {
  return encodeBanana(message.map((part, i) => (i >= 2 && (message[0] === "answer" || i >= 5) ? jelly(part) : part)) as never, d);
}

describe("plain jelly", () => {
  it("writes exactly the bytes of the tree path, or gives way (false) for what is not plain", () => {
    fc.assert(fc.property(any, dialect, (v, d) => {
      const writer = new BananaWriter(d);
      const written = writePlain(writer, v, new Set(), 0);
      if (written) {
        expect(writer.finish()).toEqual(encodeBanana(jelly(v), d));
      }
    }), { numRuns: 2000 });
  });

  it("writes every plain value (the fast path is taken) and refuses shared and cyclic ones", () => {
    fc.assert(fc.property(plain, (v) => {
      expect(writePlain(new BananaWriter("pb"), v, new Set(), 0)).toBe(true);
    }), { numRuns: 1000 });
    const shared = [1, 2];
    expect(writePlain(new BananaWriter("pb"), [shared, shared], new Set(), 0)).toBe(false);
    const cycle: PbValue[] = [];
    cycle.push(cycle);
    expect(writePlain(new BananaWriter("pb"), cycle, new Set(), 0)).toBe(false);
  });

  it("reads answers and calls as the tree path does, and every plain one in the pb dialect", () => {
    fc.assert(fc.property(any, fc.array(any, { maxLength: 3 }), (v, args) => {
      const answer = treeBytes(["answer", 7, v], "pb");
      const read = readPlainMessage(answer, 0, answer.length, DEFAULT_BANANA_LIMITS);
      const tree = unjelly((decodeBanana(answer, "pb")[0] as never[])[2]!);
      if (read !== undefined) {
        expect(plainEnd).toBe(answer.length);
        expect(read).toStrictEqual({ command: "answer", id: 7, value: tree });
      }
      const call = treeBytes(["message", 3, 5, "notify", 1, new Tuple(args), Object.create(null) as PbValue], "pb");
      const message = readPlainMessage(call, 0, call.length, DEFAULT_BANANA_LIMITS);
      if (message !== undefined) {
        expect(message).toStrictEqual({ command: "message", id: 3, objectId: 5, method: "notify", answerRequired: true, args: (unjelly((decodeBanana(call, "pb")[0] as never[])[5]!) as Tuple).items });
      }
    }), { numRuns: 2000 });
    fc.assert(fc.property(plain, (v) => {
      const answer = treeBytes(["answer", 7, v], "pb");
      expect(readPlainMessage(answer, 0, answer.length, DEFAULT_BANANA_LIMITS)).toBeDefined();
    }), { numRuns: 1000 });
  });

  it("reads a message from the middle of a buffer, and nothing from one cut short or of another dialect", () => {
    fc.assert(fc.property(plain, (v) => {
      const one = treeBytes(["answer", 1, v], "pb");
      const both = new Uint8Array([...one, ...one]);
      expect(readPlainMessage(both, one.length, both.length, DEFAULT_BANANA_LIMITS)).toBeDefined();
      expect(plainEnd).toBe(both.length);
      for (let cut = 0; cut < one.length; cut++) {
        expect(readPlainMessage(one, 0, cut, DEFAULT_BANANA_LIMITS)).toBeUndefined();
      }
      const none = treeBytes(["answer", 1, v], "none");
      expect(readPlainMessage(none, 0, none.length, DEFAULT_BANANA_LIMITS)).toBeUndefined(); // "answer" spelt out: the tree path's
    }), { numRuns: 300 });
  });

  it("leaves every limit to the tree path, which refuses with its own error", () => {
    const deep = treeBytes(["answer", 1, [[[[["x"]]]]]], "pb");
    expect(readPlainMessage(deep, 0, deep.length, { ...DEFAULT_BANANA_LIMITS, maxDepth: 4 })).toBeUndefined();
    expect(readPlainMessage(deep, 0, deep.length, { ...DEFAULT_BANANA_LIMITS, maxDepth: 16 })).toBeDefined();
    const long = treeBytes(["answer", 1, "x".repeat(100)], "pb");
    expect(readPlainMessage(long, 0, long.length, { ...DEFAULT_BANANA_LIMITS, maxItemLength: 99 })).toBeUndefined();
    const big = treeBytes(["answer", 1, 2 ** 53], "pb"); // beyond a safe integer: a bigint, the tree path's
    expect(readPlainMessage(big, 0, big.length, DEFAULT_BANANA_LIMITS)).toBeUndefined();
  });

  it("never throws on random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const read = readPlainMessage(bytes, 0, bytes.length, DEFAULT_BANANA_LIMITS);
      expect(read === undefined || typeof read.command === "string").toBe(true);
    }), { numRuns: 3000 });
  });
});
