// MD5 (RFC 1321), which PB's challenge-response login requires and WebCrypto does not offer. Written here (the issue
// allows it) because the smallest maintained package, @noble/hashes, costs about 2 KB of the 12 KB browser bundle and
// this costs a quarter of that; checked against RFC 1321's test suite and Python's hashlib. Internal.

// T[i] = floor(abs(sin(i + 1)) * 2**32), written out rather than computed so that no engine's Math.sin can differ.
const T = new Int32Array([
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af,
  0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
  0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
  0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97,
  0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
  0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
]);
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
