// Time spans in the two syntaxes stas reads, with one scanner of `<number> <unit>` terms under both:
//   * nvme-stas's (its timeparse module, derived from pytimeparse) for `zeroconf-connections-persistence`: units
//     d/h/m/s in that order, `,`/`/` between terms, clock forms (`1:02:03`), a sign, plain Python floats, and
//     Python's int/float distinction kept because stafd prints it (`259200 sec` for `72hours`, `90.0 sec` for `90`);
//   * systemd's (the syntax of unit files) for snapshot schedules: `15min`, `2d 12h`, `1w`, `500ms`, any order, no
//     sign, a bare number in a caller-chosen unit; the result in milliseconds.

export interface TimeSpan {
  readonly seconds: number;
  /** Python would hold a float (plain numbers, fractional seconds); affects only how it is printed */
  readonly isFloat: boolean;
}

interface Unit {
  /** the quantity (pytimeparse allows each once, in order) */
  readonly kind: string;
  /** in the dialect's base unit: seconds (nvme-stas) or milliseconds (systemd) */
  readonly factor: number;
}

interface Term {
  readonly num: string;
  readonly unit: Unit;
  /** a `,` or `/` followed it */
  readonly sep: boolean;
}

type Scan = { terms: Term[] } | { unknownUnit: string } | { syntax: true };

/** Splits text into `<number><unit>` terms; whitespace around them is free, separators only when allowed. */
function scanTerms(text: string, numberRe: string, lookup: (word: string) => Unit | undefined, seps: boolean): Scan {
  const re = new RegExp(String.raw`\s*(${numberRe})\s*([a-zA-Z]+)\s*${seps ? String.raw`(?:([,/])\s*)?` : ''}`, 'y');
  const s = text.trimEnd();
  const terms: Term[] = [];
  for (let pos = 0; pos < s.length; pos = re.lastIndex) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return { syntax: true };
    const unit = lookup(m[2]!);
    if (!unit) return { unknownUnit: m[2]! };
    terms.push({ num: m[1]!, unit, sep: m[3] !== undefined });
  }
  return { terms };
}

// ---- nvme-stas (pytimeparse) ----

const PY_UNITS: Record<string, Unit> = {};
for (const [kind, factor, words] of [
  ['days', 86400, ['d', 'dy', 'dys', 'day', 'days']],
  ['hours', 3600, ['h', 'hr', 'hrs', 'hour', 'hours']],
  ['mins', 60, ['m', 'min', 'mins', 'minute', 'minutes']],
  ['secs', 1, ['s', 'sec', 'secs', 'second', 'seconds']],
] as const)
  for (const w of words) PY_UNITS[w] = { kind, factor };
const PY_ORDER = ['days', 'hours', 'mins', 'secs'];
const MULTIPLIER: Record<string, number> = { days: 86400, hours: 3600, mins: 60, secs: 1 };

const CSECS = String.raw`(?<secs>\d{2}(?:\.\d+)?)`;
const DAYS_PREFIX = String.raw`(?:(?<days>[\d.]+)\s*(?:d|dys?|days?)\s*(?:[,/]\s*)?)?`;
// the clock forms, tried in this order after the unit terms
const CLOCK_FORMS: RegExp[] = [
  String.raw`(?<mins>\d{1,2}):${CSECS}`,
  String.raw`${DAYS_PREFIX}\s*(?<hours>\d+):(?<mins>\d{2}):${CSECS}`,
  String.raw`(?<days>\d+):(?<hours>\d{2}):(?<mins>\d{2}):${CSECS}`,
  String.raw`:${CSECS}`,
].map((f) => new RegExp(String.raw`^\s*${f}\s*$`, 'i'));

// What Python's float() accepts: decimal/exponent literals with `_` between digits, inf/infinity/nan.
const PY_FLOAT = /^[+-]?(?:(?:\d(?:_?\d)*)(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const PY_FLOAT_SPECIAL = /^([+-]?)(inf|infinity|nan)$/i;

function pythonFloat(text: string): number | undefined {
  const t = text.trim();
  if (PY_FLOAT.test(t)) return Number(t.replaceAll('_', ''));
  const m = PY_FLOAT_SPECIAL.exec(t);
  if (m) return m[2].toLowerCase() === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity;
  return undefined;
}

const isDigits = (s: string): boolean => /^\d+$/.test(s);

/** pytimeparse's unit form: each of d, h, m, s at most once and in that order; no separator after seconds. */
function pyTerms(text: string): [kind: string, num: string][] | undefined {
  const scan = scanTerms(text, String.raw`[\d.]+`, (w) => PY_UNITS[w.toLowerCase()], true);
  if (!('terms' in scan) || scan.terms.length === 0) return undefined;
  let last = -1;
  for (const t of scan.terms) {
    const i = PY_ORDER.indexOf(t.unit.kind);
    if (i <= last || (t.unit.kind === 'secs' && t.sep)) return undefined;
    last = i;
  }
  return scan.terms.map((t) => [t.unit.kind, t.num]);
}

function pyClock(text: string): [kind: string, num: string][] | undefined {
  for (const re of CLOCK_FORMS) {
    const m = re.exec(text);
    if (m) return Object.entries(m.groups ?? {}).filter((e): e is [string, string] => e[1] !== undefined);
  }
  return undefined;
}

/**
 * Parses a time span the way nvme-stas does: `72hours`, `3 days 5 hours`, `1:02:03`, `- 1 minute`, `90`, ...
 * Returns null for text nvme-stas cannot parse (`1w`, `blah`, empty).
 */
export function parseTimeSpan(text: string): TimeSpan | null {
  const plain = pythonFloat(text);
  if (plain !== undefined) return { seconds: plain, isFloat: true };

  const sm = /^\s*(?<sign>[+|-])?\s*(?<rest>.*)$/s.exec(text);
  const sign = sm?.groups?.sign === '-' ? -1 : 1;
  const unsigned = sm?.groups?.rest ?? '';
  const parts = pyTerms(unsigned) ?? pyClock(unsigned);
  if (!parts) return null;
  if (parts.every(([, v]) => isDigits(v))) {
    return {
      seconds: sign * parts.reduce((acc, [k, v]) => acc + MULTIPLIER[k] * parseInt(v, 10), 0),
      isFloat: false,
    };
  }
  // some unit is fractional. `[\d.]+` also matches text like `1.2.3`, on which Python's float() raises (and
  // nvme-stas with it): treat that as unparseable
  const nums = parts.map(([k, v]) => [k, pythonFloat(v)] as const);
  if (nums.some(([, n]) => n === undefined)) return null;
  const secsText = parts.find(([k]) => k === 'secs')?.[1];
  if (secsText === undefined || isDigits(secsText)) {
    // integer result: the non-second units are truncated together, and (a pytimeparse quirk) the sign applies
    // to them only, not to the whole seconds added after
    const rest = nums.filter(([k]) => k !== 'secs').reduce((acc, [k, n]) => acc + MULTIPLIER[k] * (n as number), 0);
    return { seconds: sign * Math.trunc(rest) + (secsText ? parseInt(secsText, 10) : 0), isFloat: false };
  }
  return { seconds: sign * nums.reduce((acc, [k, n]) => acc + MULTIPLIER[k] * (n as number), 0), isFloat: true };
}

/** Python repr of a number held as int or float: `259200`, `90.0`, `1.2`, `-1.0`. */
export function pythonNumberRepr(value: number, isFloat: boolean): string {
  if (!isFloat) return String(value);
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (Number.isInteger(value) && Math.abs(value) < 1e16) return `${value}.0`;
  return String(value).replace(/e([+-])(\d)$/, 'e$10$2');
}

export function timeSpanRepr(ts: TimeSpan): string {
  return pythonNumberRepr(ts.seconds, ts.isFloat);
}

// ---- systemd ----

const SD_UNITS: Record<string, Unit> = {};
for (const [factor, words] of [
  [1, ['ms', 'msec']],
  [1000, ['s', 'sec', 'second', 'seconds']],
  [60_000, ['m', 'min', 'minute', 'minutes']],
  [3_600_000, ['h', 'hr', 'hour', 'hours']],
  [86_400_000, ['d', 'day', 'days']],
  [604_800_000, ['w', 'week', 'weeks']],
  // systemd's month and year are averages; good enough for ages, never used for calendar maths
  [2_629_800_000, ['M', 'month', 'months']],
  [31_557_600_000, ['y', 'year', 'years']],
] as const)
  for (const w of words) SD_UNITS[w] = { kind: w, factor };

/** `m` is minutes and `M` months; other units take any case when written as one letter (`10S`), else lower case. */
const sdUnit = (w: string): Unit | undefined =>
  SD_UNITS[w] ?? (w.length === 1 || w === w.toLowerCase() ? SD_UNITS[w.toLowerCase()] : undefined);

/**
 * Parses a systemd-style time span into milliseconds (`1h`, `15min`, `2d 12h`, `90s`, `1w`); a bare number is in
 * `bareUnit` (seconds by default, as in systemd). Negative, empty or unknown-unit text gives the reason.
 */
export function parseSystemdTimeSpan(text: string, bareUnit: 's' | 'ms' = 's'): { ms: number } | { error: string } {
  const s = text.trim();
  if (s === '') return { error: 'empty time span' };
  if (/^\d+(\.\d+)?$/.test(s)) return { ms: Math.round(Number(s) * (bareUnit === 's' ? 1000 : 1)) };
  const scan = scanTerms(s, String.raw`\d+(?:\.\d+)?`, sdUnit, false);
  if ('unknownUnit' in scan) return { error: `"${text}": unknown time unit "${scan.unknownUnit}"` };
  if ('syntax' in scan) return { error: `"${text}" is not a time span (e.g. 90s, 15min, 1h, 2d 12h)` };
  return { ms: Math.round(scan.terms.reduce((acc, t) => acc + Number(t.num) * t.unit.factor, 0)) };
}

/** A short human form of milliseconds: 42m, 3h 5m, 2d 4h, 45s. */
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
