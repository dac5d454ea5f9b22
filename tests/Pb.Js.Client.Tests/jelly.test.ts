import { describe, expect, it } from "vitest";
import {
  BananaFloat, JellyError, JellyRegistry, Tuple, Unpersistable, encodeBanana, decodeBanana, jelly, unjelly,
  type BananaValue, type PbValue,
} from "../../src/Pb.Js.Client/src/index.js";
import { differs, fromHex, loadVectors, treeOf, type HexField } from "./vectors.js";

interface JellyVector {
  name: string;
  jelly?: unknown;
  jelly_error?: string;
  banana_none_hex?: HexField;
  banana_pb_hex?: HexField;
  unjelly_default_security?: { accepted: boolean; error?: string };
}
interface SecurityVector { name: string; jelly: unknown; banana_pb_hex?: string; result: { accepted: boolean; error?: string } }

/** The registered copyable of the vectors (gen_vectors.py's pbvectors.Point / RemotePoint). */
class Point {
  x = 0;
  y = 0;
  label = "";
}

const registry = new JellyRegistry().add("pbvectors.Point", Point);
const vectors = (loadVectors("jelly.json").vectors as JellyVector[]);
const security = (loadVectors("unjelly-security.json").vectors as SecurityVector[]);

/** Trees compare by content: bytes as hex (text as its UTF-8 bytes, which is how the writer sends it), floats tagged. */
function plain(v: BananaValue): unknown {
  if (v instanceof BananaFloat) {
    return { float: Object.is(v.value, -0) ? "-0" : String(v.value) };
  }
  if (v instanceof Uint8Array || typeof v === "string") {
    return { bytes: Buffer.from(v).toString("hex") };
  }
  return Array.isArray(v) ? v.map(plain) : typeof v === "bigint" ? { int: v.toString() } : v;
}

/** What re-sending a tree yields: integral floats go back as ints (JavaScript cannot tell 1.0 from 1). */
function resent(tree: BananaValue): BananaValue {
  if (tree instanceof BananaFloat) {
    return Number.isInteger(tree.value) && !Object.is(tree.value, -0) ? tree.value : tree;
  }
  return Array.isArray(tree) ? tree.map(resent) : tree;
}

const integralFloat = (t: BananaValue): boolean =>
  t instanceof BananaFloat ? Number.isInteger(t.value) && !Object.is(t.value, -0) : Array.isArray(t) && t.some(integralFloat);

describe("jelly vectors from Twisted 22.4", () => {
  it("has the vectors", () => {
    expect(vectors.length).toBeGreaterThan(90);
  });

  // Vectors of Python values jelly refuses (a datetime with tzinfo, Decimal('NaN')) or turns into a tree banana
  // cannot carry (Decimal('Infinity') holds a str) never reach the wire, and have no JavaScript counterpart:
  // PbDateTime has no time zone and PbDecimal neither NaN nor infinities.
  const onTheWire = vectors.filter((x) => x.jelly !== undefined && !JSON.stringify(x.jelly).includes('{"str":'));
  it("covers every vector that reaches the wire", () => {
    expect(vectors.length - onTheWire.length).toBe(3);
  });
  for (const v of onTheWire) {
    const tree = treeOf(v.jelly);
    const accepted = v.unjelly_default_security?.accepted ?? true;
    if (!accepted) {
      it(`refuses ${v.name} as Twisted's broker does`, () => {
        expect(() => unjelly(tree, registry)).toThrow(JellyError);
      });
      continue;
    }
    it(`${v.name}: unjellies, then jellies back to Twisted's tree and bytes`, () => {
      const value = unjelly(tree, registry);
      const again = jelly(value, registry);
      expect(plain(again)).toEqual(plain(resent(tree)));
      if (!integralFloat(tree)) {
        for (const [dialect, field] of [["none", v.banana_none_hex], ["pb", v.banana_pb_hex]] as const) {
          if (field !== undefined) {
            const problem = differs(encodeBanana(again, dialect), field);
            expect(problem, `${v.name} (${dialect}): ${problem}`).toBeNull();
          }
        }
      }
    });
  }

  // As in the C# suite: references to live objects are the broker's to resolve (refused here, with no connection),
  // and a dereference of an id never defined is refused (Twisted leaves a placeholder object in the result).
  const brokerOnly = new Set(["remote reference", "local unknown id", "cached unknown id", "lcache unknown id", "dereference unknown id"]);
  for (const v of security) {
    const accepted = v.result.accepted && !brokerOnly.has(v.name);
    it(`${accepted ? "accepts" : "refuses"} ${v.name} (unjelly security)`, () => {
      const tree = v.banana_pb_hex !== undefined ? decodeBanana(fromHex(v.banana_pb_hex), "pb")[0]! : treeOf(v.jelly);
      if (accepted) {
        const value = unjelly(tree, registry);
        const type = (v.result as { result_type?: string }).result_type;
        if (type === "twisted.spread.jelly.Unpersistable") {
          expect(value).toBeInstanceOf(Unpersistable);
        } else if (type === "pbvectors.RemotePoint") {
          expect(value).toBeInstanceOf(Point);
          expect((value as Point).x).toBe(1);
        } else {
          throw new Error(`unmapped accepted vector ${v.name}: ${type}`);
        }
      } else {
        expect(() => unjelly(tree, registry)).toThrow(JellyError);
      }
    });
  }
});

describe("values", () => {
  it("keeps identity: shared and cyclic values come back shared and cyclic", () => {
    const shared = [1];
    const cyclic: PbValue[] = [];
    cyclic.push(cyclic);
    const back = unjelly(jelly([shared, shared, cyclic])) as PbValue[][];
    expect(back[0]).toBe(back[1]);
    expect(back[2]![0]).toBe(back[2]);
  });

  it("makes text-keyed dictionaries plain objects without a prototype, others Maps", () => {
    const object = unjelly(jelly({ __proto__: 1, a: "b" } as unknown as PbValue)) as Record<string, PbValue>;
    expect(Object.getPrototypeOf(object)).toBeNull();
    expect(object.a).toBe("b");
    const map = unjelly(jelly(new Map<PbValue, PbValue>([[1, "one"], [new Tuple([1, 2]), null]])));
    expect(map).toBeInstanceOf(Map);
  });

  it("refuses a type name of 640 KB with a JellyError, not a stack overflow", () => {
    expect(() => unjelly([new Uint8Array(640 * 1024).fill(0x61)])).toThrow(JellyError);
  });

  it("refuses a dictionary entry that is no pair after a key that is not text, with a JellyError (not a TypeError)", () => {
    expect(() => unjelly(["dictionary", [1, 2], 7])).toThrow(JellyError);
  });

  it("refuses to send an instance of a class nobody registered", () => {
    class Secret { token = "x"; }
    expect(() => jelly(new Secret())).toThrow(/register its class/);
  });
});
