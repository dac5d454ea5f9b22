import { describe, expect, it } from "vitest";
import {
  BananaError, BananaFloat, BananaParser, DEFAULT_BANANA_LIMITS, decodeBanana, encodeBanana,
  type BananaDialect, type BananaValue,
} from "../../src/Pb.Js.Client/src/index.js";
import { bytesOf, differs, fromHex, loadVectors, treeOf, type HexField } from "./vectors.js";

interface EncodeVector { name: string; value: unknown; none_hex: HexField; pb_hex: HexField }
interface DecodeVector { name: string; dialect: BananaDialect; hex: string; decoded: unknown[] }
interface BadVector { name: string; dialect?: BananaDialect; hex: string; twisted_error?: string }

const vectors = loadVectors("banana.json");
const encode = vectors.encode as EncodeVector[];
const decodeOnly = vectors.decode_only as DecodeVector[];
const incomplete = vectors.incomplete as BadVector[];
const malformed = vectors.malformed as BadVector[];
const refusals = vectors.encoder_refusals as { name: string }[];

/** Values compare with floats as numbers, NaN equal to NaN, bytes by content. */
function plain(v: BananaValue): unknown {
  if (v instanceof BananaFloat) {
    return { float: Object.is(v.value, -0) ? "-0" : String(v.value) };
  }
  if (v instanceof Uint8Array || typeof v === "string") {
    return { bytes: Buffer.from(v).toString("hex") }; // a string stands for its UTF-8 bytes
  }
  if (Array.isArray(v)) {
    return v.map(plain);
  }
  return typeof v === "bigint" ? { int: v.toString() } : v;
}

function oneByteAtATime(bytes: Uint8Array, dialect: BananaDialect): BananaValue[] {
  const parser = new BananaParser(dialect);
  const out: BananaValue[] = [];
  for (let i = 0; i < bytes.length; i++) {
    out.push(...parser.feed(bytes.subarray(i, i + 1)));
  }
  expect(parser.hasPartial).toBe(false);
  return out;
}

describe("banana vectors from Twisted 22.4", () => {
  it("has the vectors", () => {
    expect(encode.length).toBeGreaterThan(50);
    expect(vectors.constants).toMatchObject({ SIZE_LIMIT: DEFAULT_BANANA_LIMITS.maxItemLength, prefix_limit_bytes: DEFAULT_BANANA_LIMITS.maxHeaderLength });
  });

  for (const dialect of ["none", "pb"] as const) {
    describe(`dialect ${dialect}`, () => {
      for (const v of encode) {
        const field = dialect === "none" ? v.none_hex : v.pb_hex;
        it(`encodes ${v.name} byte for byte`, () => {
          const problem = differs(encodeBanana(treeOf(v.value), dialect), field);
          expect(problem, `${v.name}: ${problem} (update tests/TestVectors with gen_vectors.py if Twisted changed)`).toBeNull();
        });
        it(`decodes ${v.name}, whole and one byte at a time`, () => {
          const bytes = bytesOf(field);
          const expected = plain(treeOf(v.value));
          expect(decodeBanana(bytes, dialect).map(plain)).toEqual([expected]);
          if (bytes.length < 100_000) {
            expect(oneByteAtATime(bytes, dialect).map(plain)).toEqual([expected]);
          }
        });
      }
    });
  }

  for (const v of decodeOnly) {
    it(`decodes ${v.name} (decode only)`, () => {
      const bytes = fromHex(v.hex);
      const expected = v.decoded.map((d) => plain(treeOf(d)));
      expect(decodeBanana(bytes, v.dialect).map(plain)).toEqual(expected);
      expect(oneByteAtATime(bytes, v.dialect).map(plain)).toEqual(expected);
    });
  }

  for (const v of incomplete) {
    it(`waits on ${v.name}: nothing delivered, no error`, () => {
      const parser = new BananaParser("none");
      expect(parser.feed(fromHex(v.hex))).toEqual([]);
      expect(parser.hasPartial).toBe(true);
    });
  }

  for (const v of malformed) {
    it(`refuses ${v.name} as Twisted does`, () => {
      expect(() => decodeBanana(fromHex(v.hex), v.dialect ?? "none")).toThrow(BananaError);
    });
  }

  it("refuses what Twisted refuses to encode", () => {
    expect(refusals.length).toBeGreaterThan(0);
    expect(() => encodeBanana(1n << 448n)).toThrow(/too large to send/);
    expect(() => encodeBanana(-(1n << 448n))).toThrow(/too large to send/);
    expect(() => encodeBanana(new Uint8Array(640 * 1024 + 1))).toThrow(/too long to send/);
    expect(() => encodeBanana(new Array<BananaValue>(640 * 1024 + 1).fill(0))).toThrow(/too long to send/);
    expect(() => encodeBanana(1.5)).toThrow(/not an integer/);
  });
});

describe("limits Twisted lacks", () => {
  it("caps the nesting depth", () => {
    // 01 80 repeated: a list holding a list holding ...
    const nested = new Uint8Array(2 * (DEFAULT_BANANA_LIMITS.maxDepth + 1));
    for (let i = 0; i < nested.length; i += 2) {
      nested[i] = 0x01;
      nested[i + 1] = 0x80;
    }
    expect(() => decodeBanana(nested)).toThrow(/nested deeper/);
  });

  it("caps the size of one message", () => {
    const parser = new BananaParser("none", { ...DEFAULT_BANANA_LIMITS, maxMessageSize: 1000 });
    const big = encodeBanana([new Uint8Array(600), new Uint8Array(600)]);
    expect(() => parser.feed(big)).toThrow(/larger than 1000 bytes/);
  });

  it("keeps integers exact: safe ones as numbers, larger ones as bigint, both ways", () => {
    for (const n of [0, 1, -1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      expect(decodeBanana(encodeBanana(n))).toEqual([n]);
    }
    for (const n of [2n ** 53n, -(2n ** 53n), 2n ** 447n, -(2n ** 447n)]) {
      expect(decodeBanana(encodeBanana(n))).toEqual([n]);
    }
  });
});
