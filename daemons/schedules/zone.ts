// Wall-clock <-> UTC conversion for IANA time zones with Intl only (no tz database of our own).
// "Naive" times are wall-clock times encoded as if they were UTC milliseconds: arithmetic on them is plain
// calendar arithmetic, and the zone's offset is what separates a naive time from the real instant.
import { ValueError } from './errors.js';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Throws ValueError unless Intl knows the zone. Returns the canonical spelling Intl uses. */
export function validateTimeZone(tz: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    throw new ValueError(`"${tz}" is not a known time zone (IANA name like Europe/Berlin, or UTC)`);
  }
}

function isUtc(tz: string): boolean {
  return tz === 'UTC' || tz === 'Etc/UTC' || tz === 'GMT' || tz === 'Etc/GMT';
}

/** The wall-clock time of `instant` in `tz`, as a naive time (whole seconds). */
export function toNaive(instant: number, tz: string): number {
  if (isUtc(tz)) return instant;
  const sec = Math.floor(instant / 1000) * 1000;
  const parts = formatter(tz).formatToParts(new Date(sec));
  const get = (t: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === t)!.value);
  return (
    Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) + (instant - sec)
  );
}

/** UTC offset of `tz` at `instant`, in ms (east positive). */
export function offsetAt(instant: number, tz: string): number {
  return toNaive(instant, tz) - instant;
}

export type WallResolution =
  | { kind: 'unique'; instant: number }
  /** the wall time was skipped (spring forward): `instant` is the first valid instant after it (the transition) */
  | { kind: 'gap'; instant: number }
  /** the wall time happened twice (fall back) */
  | { kind: 'ambiguous'; first: number; second: number };

/** Maps a naive wall-clock time to the instant(s) it denotes in `tz`. */
export function resolveWall(naive: number, tz: string): WallResolution {
  if (isUtc(tz)) return { kind: 'unique', instant: naive };
  // Offsets in force a day either side cover every transition near this wall time (they are < 1 day apart).
  const before = offsetAt(naive - 86_400_000, tz);
  const after = offsetAt(naive + 86_400_000, tz);
  const candidates = new Set<number>([before, after, offsetAt(naive - before, tz), offsetAt(naive - after, tz)]);
  const valid = [...candidates]
    .map((o) => naive - o)
    .filter((t) => toNaive(t, tz) === naive)
    .sort((a, b) => a - b);
  const uniq = [...new Set(valid)];
  if (uniq.length === 1) return { kind: 'unique', instant: uniq[0]! };
  if (uniq.length >= 2) return { kind: 'ambiguous', first: uniq[0]!, second: uniq[uniq.length - 1]! };
  // Gap: the transition lies between (naive - after) and (naive - before) with after > before. Find the first
  // instant whose offset is the new one by bisection (to the millisecond).
  let lo = naive - Math.max(before, after) - 1;
  let hi = naive - Math.min(before, after) + 1;
  const newOffset = offsetAt(hi, tz);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(mid, tz) === newOffset) hi = mid;
    else lo = mid;
  }
  return { kind: 'gap', instant: hi };
}

/** Calendar fields of a naive time. weekday: 0 = Sunday … 6 = Saturday. */
export interface WallFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

export function wallFields(naive: number): WallFields {
  const d = new Date(naive);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: d.getUTCDay(),
  };
}

/** "2024-03-31 02:30:00" for logs and CLI output. */
export function formatWall(naive: number): string {
  return new Date(naive).toISOString().replace('T', ' ').slice(0, 19);
}

/** Local rendering of an instant in a zone with its offset: "2024-03-31 03:00:00 +02:00". */
export function formatInZone(instant: number, tz: string): string {
  const off = Math.round(offsetAt(instant, tz) / 60_000);
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${formatWall(toNaive(instant, tz))} ${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}
