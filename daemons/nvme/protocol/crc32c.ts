// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the NVMe/TCP header and data digest.
// Slicing-by-8 tables: about 8x faster than the byte-wise loop for 4 KiB+ payloads.

const POLY = 0x82f63b78;
const T = new Int32Array(256 * 8);

for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  T[i] = c;
}
for (let i = 0; i < 256; i++) {
  let c = T[i]!;
  for (let s = 1; s < 8; s++) {
    c = T[c & 0xff]! ^ (c >>> 8);
    T[s * 256 + i] = c;
  }
}

/** Continues a CRC over more bytes; start with crc = 0 (the init/final xor are handled here). */
export function crc32cUpdate(crc: number, data: Uint8Array): number {
  let c = ~crc;
  let i = 0;
  const n = data.length;
  const end8 = n - (n & 7);
  for (; i < end8; i += 8) {
    const a = c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    c =
      T[7 * 256 + (a & 0xff)]! ^
      T[6 * 256 + ((a >>> 8) & 0xff)]! ^
      T[5 * 256 + ((a >>> 16) & 0xff)]! ^
      T[4 * 256 + (a >>> 24)]! ^
      T[3 * 256 + data[i + 4]!]! ^
      T[2 * 256 + data[i + 5]!]! ^
      T[256 + data[i + 6]!]! ^
      T[data[i + 7]!]!;
  }
  for (; i < n; i++) c = T[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC32C of a byte string or of the UTF-8 bytes of a string. crc32c("123456789") = 0xE3069283. */
export function crc32c(data: Uint8Array | string): number {
  return crc32cUpdate(0, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
}
