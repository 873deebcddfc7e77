// systemd-style time spans ("1h", "15min", "2d 12h", "90s", "1w"): the syntax users already write in unit files.
import { ValueError } from './errors.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  msec: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
  // systemd's month and year are averages; good enough for ages, never used for calendar maths
  M: 2_629_800_000,
  month: 2_629_800_000,
  months: 2_629_800_000,
  y: 31_557_600_000,
  year: 31_557_600_000,
  years: 31_557_600_000,
};

/**
 * Parses a time span into milliseconds. A bare number means `bareUnit` (seconds by default, as in systemd).
 * Throws ValueError for anything else (negative, empty, unknown unit).
 */
export function parseTimeSpan(text: string, bareUnit: 's' | 'ms' = 's'): number {
  const s = text.trim();
  if (s === '') throw new ValueError('empty time span');
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * UNIT_MS[bareUnit]!);
  const re = /(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) throw new ValueError(`"${text}" is not a time span (e.g. 90s, 15min, 1h, 2d 12h)`);
    const unit = m[2]!;
    const ms = UNIT_MS[unit] ?? UNIT_MS[unit.toLowerCase()];
    if (ms === undefined || (unit.length > 1 && unit !== unit.toLowerCase() && unit !== 'M')) {
      throw new ValueError(`"${text}": unknown time unit "${unit}"`);
    }
    total += Number(m[1]) * ms;
    pos = re.lastIndex;
  }
  return Math.round(total);
}

/** A short human form: 42m, 3h 5m, 2d 4h, 45s. */
export function formatTimeSpan(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const neg = ms < 0;
  let sec = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(sec / 86400);
  sec -= d * 86400;
  const h = Math.floor(sec / 3600);
  sec -= h * 3600;
  const m = Math.floor(sec / 60);
  sec -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (sec) parts.push(`${sec}s`);
  if (parts.length === 0) parts.push('0s');
  return (neg ? '-' : '') + parts.slice(0, 2).join(' ');
}
