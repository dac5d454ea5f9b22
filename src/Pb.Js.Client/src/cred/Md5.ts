// MD5 (RFC 1321), which PB's challenge-response login requires and WebCrypto does not offer. Written here (the issue
// allows it) because the smallest maintained package, @noble/hashes, costs about 2 KB of the 12 KB browser bundle and
// this costs a tenth of that; checked against RFC 1321's test suite and Node's crypto. Internal.

// T[i] = floor(abs(sin(i + 1)) * 2**32), as RFC 1321 defines it. Computed: the nearest of these 64 products is 0.015
// from a whole number, so a sine correct to 1e-12 (every engine's is correct to about 1e-16) gives exactly the RFC's table.
const T = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32));
// the rotation of each step: four per round, repeated four times
const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/** The 16-byte MD5 digest of `data`. */
export function md5(data: Uint8Array): Uint8Array {
  const n = data.length;
  const words = (((n + 8) >>> 6) + 1) * 16; // the message, 0x80, zeros and the 64-bit bit length fill whole blocks
  const m = new Int32Array(words);
  for (let i = 0; i < n; i++) m[i >> 2]! |= data[i]! << ((i & 3) * 8);
  m[n >> 2]! |= 0x80 << ((n & 3) * 8);
  m[words - 2] = n << 3;
  m[words - 1] = Math.floor(n / 0x20000000);
  const h = new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
  for (let j = 0; j < words; j += 16) {
    let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!;
    for (let i = 0; i < 64; i++) {
      const round = i >> 4;
      const f = round === 0 ? (b & c) | (~b & d) : round === 1 ? (d & b) | (~d & c) : round === 2 ? b ^ c ^ d : c ^ (b | ~d);
      const g = round === 0 ? i : round === 1 ? (5 * i + 1) & 15 : round === 2 ? (3 * i + 5) & 15 : (7 * i) & 15;
      const x = (a + f + T[i]! + m[j + g]!) | 0;
      const s = S[round * 4 + (i & 3)]!;
      a = d;
      d = c;
      c = b;
      b = (b + ((x << s) | (x >>> (32 - s)))) | 0;
    }
    h[0]! += a;
    h[1]! += b;
    h[2]! += c;
    h[3]! += d;
  }
  const digest = new DataView(new ArrayBuffer(16));
  for (let i = 0; i < 4; i++) digest.setInt32(i * 4, h[i]!, true); // the words little-endian: the digest's byte order
  return new Uint8Array(digest.buffer);
}
