// Byte sizes: one parser for the daemon, the D-Bus adapter and stacctl, and one formatter for output.
import { InvalidArgumentError } from './errors.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;
/** Largest volume the product allows (512 TiB = 2^49, well inside Number's exact integer range). */
export const MAX_VOLUME_SIZE = 512 * TiB;
export const SECTOR = 512;

// Binary multiples whether or not the unit has an "i": storage people write 10G and mean GiB, and so do
// qemu-img and rbd. "B" or no unit means bytes.
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: KiB,
  m: MiB,
  g: GiB,
  t: TiB,
  p: 1024 * TiB,
};

/** Parses "10G", "1.5TiB", "512", "4096B", "2 MiB" into bytes. Throws InvalidArgumentError naming `field`. */
export function parseSize(text: string, field = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpKMGTP]?)(i?[bB])?\s*$/.exec(text);
  if (!m) throw new InvalidArgumentError(`${field}: "${text}" is not a size (examples: 10G, 1.5TiB, 4096)`);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = UNITS[unit] ?? 1;
  const value = Number(m[1]) * mult;
  if (!Number.isFinite(value)) throw new InvalidArgumentError(`${field}: "${text}" is too large`);
  const bytes = Math.round(value);
  if (Math.abs(bytes - value) > 1e-6)
    throw new InvalidArgumentError(`${field}: "${text}" is not a whole number of bytes`);
  return bytes;
}

/** Checks a volume size in bytes: > 0, a multiple of 512, at most 512 TiB. */
export function validateVolumeSize(bytes: number, field = 'size'): number {
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes))
    throw new InvalidArgumentError(`${field}: ${String(bytes)} is not a whole number of bytes`);
  if (bytes <= 0) throw new InvalidArgumentError(`${field}: must be greater than 0 (got ${bytes})`);
  if (bytes % SECTOR !== 0) throw new InvalidArgumentError(`${field}: ${bytes} is not a multiple of ${SECTOR} bytes`);
  if (bytes > MAX_VOLUME_SIZE)
    // in bytes: a rounded unit would read "512 TiB exceeds the maximum of 512 TiB" for 512 TiB + 512 bytes
    throw new InvalidArgumentError(
      `${field}: ${bytes} bytes exceeds the maximum of 512 TiB (${MAX_VOLUME_SIZE} bytes) by ${formatSize(bytes - MAX_VOLUME_SIZE)}`,
    );
  return bytes;
}

/** 10737418240 → "10 GiB", 1610612736 → "1.5 GiB", 100 → "100 B". */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const text = i === 0 ? String(v) : v.toFixed(2).replace(/\.?0+$/, '');
  return `${text} ${units[i]}`;
}
