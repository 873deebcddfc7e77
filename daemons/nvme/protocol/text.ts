// Fixed-width ASCII fields of NVMe structures: cut at the first NUL, then trim the space padding.

export function fixedString(buf: Buffer, start: number, end: number): string {
  const field = buf.subarray(start, Math.min(end, buf.length));
  const nul = field.indexOf(0);
  return (nul >= 0 ? field.subarray(0, nul) : field).toString('utf8').trim();
}

export function hex(buf: Uint8Array): string {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('hex');
}

/** 16 bytes as a canonical UUID string. */
export function uuidString(b: Uint8Array): string {
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
