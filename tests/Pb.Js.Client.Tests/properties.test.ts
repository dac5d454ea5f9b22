import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BananaError, BananaParser, FrozenSet, JellyError, PbDate, PbDecimal, Tuple, decodeBanana, encodeBanana, jelly, unjelly,
  type PbValue,
} from "../../src/Pb.Js.Client/src/index.js";

/** Random jelly values of every kind JavaScript sends (floats non-integral, so they stay floats). */
const value: fc.Arbitrary<PbValue> = fc.letrec<{ v: PbValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.bigInt({ min: -(1n << 447n), max: (1n << 447n) }),
    fc.double({ noInteger: true }),
    fc.string(),
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie("v"), { maxLength: 5 }),
    fc.array(tie("v"), { maxLength: 4 }).map((items) => new Tuple(items)),
    fc.array(tie("v"), { maxLength: 4 }).map((items) => new FrozenSet(items)),
    fc.array(tie("v"), { maxLength: 4 }).map((items) => new Set(items)),
    fc.dictionary(fc.string(), tie("v"), { maxKeys: 4 }).map((o) => Object.assign(Object.create(null) as Record<string, PbValue>, o)),
    fc.array(fc.tuple(fc.integer(), tie("v")), { maxLength: 4 }).map((pairs) => new Map<PbValue, PbValue>(pairs)),
    fc.tuple(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 })).map(([y, m, d]) => new PbDate(y, m, d)),
    fc.tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: -30, max: 30 })).map(([c, e]) => new PbDecimal(c, e)),
  ),
})).v;

describe("properties", () => {
  it("a value sent and received is jellied back to the same tree and bytes, in both dialects", () => {
    fc.assert(fc.property(value, fc.constantFrom("none" as const, "pb" as const), (v, dialect) => {
      const tree = jelly(v);
      const bytes = encodeBanana(tree, dialect);
      const [decoded] = decodeBanana(bytes, dialect);
      const back = unjelly(decoded!);
      expect(encodeBanana(jelly(back), dialect)).toEqual(bytes);
    }), { numRuns: 500 });
  });

  it("random bytes end in values, a wait for more, or a BananaError (then JellyError at most), never anything else", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), fc.constantFrom("none" as const, "pb" as const), (bytes, dialect) => {
      const parser = new BananaParser(dialect);
      let items: ReturnType<BananaParser["feed"]> = [];
      try {
        items = parser.feed(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(BananaError);
        return;
      }
      for (const item of items) {
        try {
          unjelly(item);
        } catch (e) {
          expect(e).toBeInstanceOf(JellyError);
        }
      }
    }), { numRuns: 3000 });
  });
});
