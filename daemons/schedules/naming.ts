// Snapshot names carry a UTC timestamp, so they sort by time and never repeat or jump at a DST change.
import { createHash } from 'node:crypto';

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** 20240607T130000Z */
export function utcStamp(instant: number): string {
  const d = new Date(instant);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
}

/** auto-<schedule>-YYYYMMDDTHHMMSSZ, with -2, -3 … appended if that name is taken (two runs in one second). */
export function snapshotName(schedule: string, instant: number, taken: ReadonlySet<string> = new Set()): string {
  const base = `auto-${schedule}-${utcStamp(instant)}`;
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** Deterministic start offset in [0, jitterMs): the same host and schedule always get the same offset. */
export function jitterOffset(hostId: string, schedule: string, jitterMs: number): number {
  if (jitterMs <= 0) return 0;
  const h = createHash('sha256').update(`${hostId}\0${schedule}`).digest();
  return Math.floor((h.readUInt32BE(0) / 0x1_0000_0000) * jitterMs);
}
