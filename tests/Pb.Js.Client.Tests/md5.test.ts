import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { md5 } from "../../src/Pb.Js.Client/src/cred/Md5.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("md5 (PB's challenge-response)", () => {
  it("gives RFC 1321's test suite digests", () => {
    const suite: [string, string][] = [
      ["", "d41d8cd98f00b204e9800998ecf8427e"],
      ["a", "0cc175b9c0f1b6a831c399e269772661"],
      ["abc", "900150983cd24fb0d6963f7d28e17f72"],
      ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
      ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
      ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"],
      ["12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"],
    ];
    for (const [input, digest] of suite) {
      expect(hex(md5(ascii(input))), input).toBe(digest);
    }
  });

  it("agrees with Node's crypto for every length across block edges, and for a large input", () => {
    for (let n = 0; n <= 200; n++) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n * 7) & 255);
      expect(hex(md5(data)), `length ${n}`).toBe(createHash("md5").update(data).digest("hex"));
    }
    const large = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31) & 255);
    expect(hex(md5(large))).toBe(createHash("md5").update(large).digest("hex"));
  });
});
