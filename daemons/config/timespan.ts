// Time spans as nvme-stas parses them for `zeroconf-connections-persistence` (its timeparse module, derived from
// pytimeparse). The result keeps Python's int/float distinction because stafd prints it: `259200 sec` for
// `72hours`, `90.0 sec` for a plain `90` (controller_info "unresponsive timeout").

export interface TimeSpan {
  readonly seconds: number;
  /** Python would hold a float (plain numbers, fractional seconds); affects only how it is printed */
  readonly isFloat: boolean;
}

const NUM = String.raw`[\d.]+`;
const DAYS = String.raw`(?<days>${NUM})\s*(?:d|dys?|days?)`;
const HOURS = String.raw`(?<hours>${NUM})\s*(?:h|hrs?|hours?)`;
const MINS = String.raw`(?<mins>${NUM})\s*(?:m|mins?|minutes?)`;
const SECS = String.raw`(?<secs>${NUM})\s*(?:s|secs?|seconds?)`;
const SEP = '[,/]';
const CSECS = String.raw`(?<secs>\d{2}(?:\.\d+)?)`;
const opt = (s: string): string => `(?:${s})?`;
const optsep = (s: string): string => String.raw`(?:${s}\s*(?:${SEP}\s*)?)?`;

// Tried in this order; the first that matches the whole (unsigned) text decides.
const FORMATS: RegExp[] = [
  String.raw`${optsep(DAYS)}\s*${optsep(HOURS)}\s*${optsep(MINS)}\s*${opt(SECS)}`,
  String.raw`(?<mins>\d{1,2}):${CSECS}`,
  String.raw`${optsep(DAYS)}\s*(?<hours>\d+):(?<mins>\d{2}):${CSECS}`,
  String.raw`(?<days>\d+):(?<hours>\d{2}):(?<mins>\d{2}):${CSECS}`,
  String.raw`:${CSECS}`,
].map((f) => new RegExp(String.raw`^\s*${f}\s*$`, 'i'));

const MULTIPLIER: Record<string, number> = { days: 86400, hours: 3600, mins: 60, secs: 1 };

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

/**
 * Parses a time span: `72hours`, `3 days 5 hours`, `1:02:03`, `- 1 minute`, `90`, ...
 * Returns null for text nvme-stas cannot parse (`1w`, `blah`, empty).
 */
export function parseTimeSpan(text: string): TimeSpan | null {
  const plain = pythonFloat(text);
  if (plain !== undefined) return { seconds: plain, isFloat: true };

  const sm = /^\s*(?<sign>[+|-])?\s*(?<rest>.*)$/s.exec(text);
  const sign = sm?.groups?.sign === '-' ? -1 : 1;
  const unsigned = sm?.groups?.rest ?? '';
  for (const re of FORMATS) {
    const m = re.exec(unsigned);
    if (!m || m[0].trim() === '') continue;
    const parts = Object.entries(m.groups ?? {}).filter((e): e is [string, string] => e[1] !== undefined);
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
    const secsText = m.groups?.secs;
    if (secsText === undefined || isDigits(secsText)) {
      // integer result: the non-second units are truncated together, and (a pytimeparse quirk) the sign applies
      // to them only, not to the whole seconds added after
      const rest = nums.filter(([k]) => k !== 'secs').reduce((acc, [k, n]) => acc + MULTIPLIER[k] * (n as number), 0);
      return { seconds: sign * Math.trunc(rest) + (secsText ? parseInt(secsText, 10) : 0), isFloat: false };
    }
    return { seconds: sign * nums.reduce((acc, [k, n]) => acc + MULTIPLIER[k] * (n as number), 0), isFloat: true };
  }
  return null;
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
