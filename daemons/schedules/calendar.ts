// A subset of systemd's OnCalendar syntax (systemd.time(7)), evaluated in an IANA time zone:
//   shorthands  minutely hourly daily weekly monthly quarterly semiannually yearly annually
//   [WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]]
//   each field: *  N  N..M  list,of,items  N/STEP  N..M/STEP  */STEP ; weekdays: Mon  Mon..Fri  Sat,Sun
// Omitted date = *-*-*, omitted time = 00:00:00, omitted seconds = 00 (as systemd).
//
// DST rule (the one Vixie cron settled on, and what users of sanoid asked for): a wall-clock time that
// does not exist (spring forward) fires once at the first valid instant after it; a wall-clock time that
// happens twice (fall back) fires once, at its first occurrence — unless the spec fires every hour
// (hour field `*`), in which case both occurrences fire, because the schedule is about elapsed time
// there: an hourly schedule runs 25 times on a 25-hour day and 23 times on a 23-hour day.
import { ValueError } from './errors.js';
import { resolveWall, toNaive, wallFields } from './zone.js';

export interface CalendarSpec {
  /** the text as given */
  readonly text: string;
  /** normalised form, systemd style: "Mon..Fri *-*-* 08:00:00" */
  readonly normalized: string;
  readonly weekdays: ReadonlySet<number> | null; // 0 = Sunday
  readonly years: ReadonlySet<number> | null;
  readonly months: readonly number[];
  readonly days: readonly number[];
  readonly hours: readonly number[];
  readonly minutes: readonly number[];
  readonly seconds: readonly number[];
  /** every hour matches: ambiguous (fall-back) wall times fire at both occurrences */
  readonly everyHour: boolean;
}

const SHORTHANDS: Record<string, string> = {
  minutely: '*-*-* *:*:00',
  hourly: '*-*-* *:00:00',
  daily: '*-*-* 00:00:00',
  weekly: 'Mon *-*-* 00:00:00',
  monthly: '*-*-01 00:00:00',
  quarterly: '*-01,04,07,10-01 00:00:00',
  semiannually: '*-01,07-01 00:00:00',
  yearly: '*-01-01 00:00:00',
  annually: '*-01-01 00:00:00',
};

const WEEKDAYS: Record<string, number> = {
  sun: 0,
  sunday: 0,
  mon: 1,
  monday: 1,
  tue: 2,
  tuesday: 2,
  wed: 3,
  wednesday: 3,
  thu: 4,
  thursday: 4,
  fri: 5,
  friday: 5,
  sat: 6,
  saturday: 6,
};
const WEEKDAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function parseNumber(tok: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(tok)) throw new ValueError(`${what} "${tok}" is not a number`);
  const n = Number(tok);
  if (n < min || n > max) throw new ValueError(`${what} ${n} is out of range ${min}..${max}`);
  return n;
}

/** One field ("*", "1,15", "0/15", "1..5", "8..18/2") → sorted allowed values, or null for "*". */
function parseField(text: string, what: string, min: number, max: number): number[] | null {
  if (text === '') throw new ValueError(`empty ${what}`);
  if (text === '*') return null;
  const out = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') throw new ValueError(`empty item in ${what} "${text}"`);
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined) throw new ValueError(`${what} "${item}" has more than one "/"`);
    const step = stepText === undefined ? 1 : parseNumber(stepText, `${what} step`, 1, max);
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = min;
      hi = max;
    } else if (range!.includes('..')) {
      const [a, b, more] = range!.split('..');
      if (more !== undefined) throw new ValueError(`${what} range "${range}" is malformed`);
      lo = parseNumber(a!, what, min, max);
      hi = parseNumber(b!, what, min, max);
      if (hi < lo) throw new ValueError(`${what} range "${range}" runs backwards`);
    } else {
      lo = parseNumber(range!, what, min, max);
      hi = stepText === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

function parseWeekdays(text: string): Set<number> {
  const out = new Set<number>();
  const day = (name: string): number => {
    const d = WEEKDAYS[name.toLowerCase()];
    if (d === undefined) throw new ValueError(`unknown weekday "${name}"`);
    return d;
  };
  for (const item of text.split(',')) {
    if (item === '') throw new ValueError(`empty item in weekdays "${text}"`);
    if (item.includes('..')) {
      const [a, b, more] = item.split('..');
      if (more !== undefined) throw new ValueError(`weekday range "${item}" is malformed`);
      // Mon=1 … Sun=7 for ranges, so "Sat..Sun" and "Mon..Sun" work as people expect
      const lo = day(a!) || 7;
      const hi = day(b!) || 7;
      if (hi < lo) throw new ValueError(`weekday range "${item}" runs backwards`);
      for (let d = lo; d <= hi; d++) out.add(d % 7);
    } else {
      out.add(day(item));
    }
  }
  return out;
}

const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function fieldText(values: readonly number[] | null, lo: number, hi: number, w = 2): string {
  if (values === null || values.length === hi - lo + 1) return '*';
  return values.map((v) => pad(v, w)).join(',');
}

/** Parses a calendar spec; throws ValueError describing what is wrong (quoting the spec). */
export function parseCalendar(text: string): CalendarSpec {
  try {
    return parseCalendarInner(text);
  } catch (e) {
    if (e instanceof ValueError && !e.message.startsWith(`"${text}"`) && text.trim() !== '')
      throw new ValueError(`"${text}": ${e.message}`);
    throw e;
  }
}

function parseCalendarInner(text: string): CalendarSpec {
  const input = text.trim();
  if (input === '') throw new ValueError('empty calendar spec');
  const expanded = SHORTHANDS[input.toLowerCase()] ?? input;
  const tokens = expanded.split(/\s+/);
  let weekdays: Set<number> | null = null;
  let dateTok: string | undefined;
  let timeTok: string | undefined;
  for (const tok of tokens) {
    if (/^[A-Za-z]/.test(tok) && !tok.includes(':') && !tok.includes('-')) {
      if (weekdays || dateTok || timeTok) throw new ValueError(`"${text}": weekdays must come first ("${tok}")`);
      weekdays = parseWeekdays(tok);
    } else if (tok.includes(':')) {
      if (timeTok) throw new ValueError(`"${text}": more than one time ("${tok}")`);
      timeTok = tok;
    } else if (tok.includes('-')) {
      if (dateTok || timeTok) throw new ValueError(`"${text}": date "${tok}" must come before the time`);
      dateTok = tok;
    } else {
      throw new ValueError(`"${text}": cannot read "${tok}" (expected weekdays, a date Y-M-D or a time H:M[:S])`);
    }
  }
  {
    let years: number[] | null = null;
    let months: number[] | null = null;
    let days: number[] | null = null;
    if (dateTok) {
      if (dateTok.includes('~')) throw new ValueError(`"~" (last day of month) is not supported`);
      const parts = dateTok.split('-');
      if (parts.length === 3) {
        years = parseField(parts[0]!, 'year', 1970, 2199);
        months = parseField(parts[1]!, 'month', 1, 12);
        days = parseField(parts[2]!, 'day', 1, 31);
      } else if (parts.length === 2) {
        months = parseField(parts[0]!, 'month', 1, 12);
        days = parseField(parts[1]!, 'day', 1, 31);
      } else {
        throw new ValueError(`date "${dateTok}" must be YEAR-MONTH-DAY or MONTH-DAY`);
      }
    }
    let hours: number[] | null = [0];
    let minutes: number[] | null = [0];
    let seconds: number[] | null = [0];
    if (timeTok) {
      const parts = timeTok.split(':');
      if (parts.length < 2 || parts.length > 3) throw new ValueError(`time "${timeTok}" must be HOUR:MINUTE[:SECOND]`);
      hours = parseField(parts[0]!, 'hour', 0, 23);
      minutes = parseField(parts[1]!, 'minute', 0, 59);
      seconds = parts.length === 3 ? parseField(parts[2]!, 'second', 0, 59) : [0];
    }
    const spec = {
      text,
      weekdays,
      years: years ? new Set(years) : null,
      months: months ?? range(1, 12),
      days: days ?? range(1, 31),
      hours: hours ?? range(0, 23),
      minutes: minutes ?? range(0, 59),
      seconds: seconds ?? range(0, 59),
      everyHour: hours === null || hours.length === 24,
    };
    const wd = weekdays
      ? [...weekdays]
          .sort((a, b) => (a || 7) - (b || 7))
          .map((d) => WEEKDAY_NAMES[d])
          .join(',') + ' '
      : '';
    const normalized =
      `${wd}${years ? [...years].join(',') : '*'}-${fieldText(months, 1, 12)}-${fieldText(days, 1, 31)} ` +
      `${fieldText(hours, 0, 23)}:${fieldText(minutes, 0, 59)}:${fieldText(seconds, 0, 59)}`;
    if (!hasAnyDay(spec)) throw new ValueError(`"${text}" never matches any day`);
    return { ...spec, normalized };
  }
}

/** A spec like "*-02-30" can never fire: reject it at parse time rather than never running silently. */
function hasAnyDay(spec: Omit<CalendarSpec, 'normalized'>): boolean {
  const maxDay = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return spec.months.some((m) => spec.days.some((d) => d <= maxDay[m]!));
}

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** how far a wall time can be from its instant's position relative to another (largest DST step is 2 h) */
const SLACK = 3 * HOUR;

function dayMatches(spec: CalendarSpec, naiveMidnight: number): boolean {
  const f = wallFields(naiveMidnight);
  if (spec.years && !spec.years.has(f.year)) return false;
  if (!spec.months.includes(f.month)) return false;
  if (!spec.days.includes(f.day)) return false;
  if (spec.weekdays && !spec.weekdays.has(f.weekday)) return false;
  return true;
}

/** Firing instants of one day (naive midnight) that are > after, per the DST rule above; ascending. */
function firingsOfDay(
  spec: CalendarSpec,
  naiveMidnight: number,
  after: number,
  naiveAfter: number,
  tz: string,
  limitNaive: number,
): number[] {
  const out = new Set<number>();
  for (const h of spec.hours) {
    const hourStart = naiveMidnight + h * HOUR;
    if (hourStart + HOUR + SLACK <= naiveAfter) continue;
    if (hourStart > limitNaive) break;
    for (const m of spec.minutes) {
      for (const s of spec.seconds) {
        const wall = hourStart + m * 60_000 + s * 1000;
        if (wall + SLACK <= naiveAfter) continue;
        if (wall > limitNaive) break;
        const r = resolveWall(wall, tz);
        if (r.kind === 'ambiguous') {
          if (r.first > after) out.add(r.first);
          if (spec.everyHour && r.second > after) out.add(r.second);
        } else if (r.instant > after) {
          out.add(r.instant);
        }
      }
    }
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * The first instant strictly after `after` at which the spec fires in zone `tz`, or null when there is none
 * within 50 years (possible only with explicit years or weekday/date combinations that never coincide).
 */
export function nextCalendarRun(spec: CalendarSpec, after: number, tz: string): number | null {
  const naiveAfter = toNaive(after, tz);
  let day = Math.floor(naiveAfter / DAY) * DAY - DAY;
  const lastDay = day + 50 * 366 * DAY;
  for (; day <= lastDay; day += DAY) {
    if (!dayMatches(spec, day)) continue;
    const found = firingsOfDay(spec, day, after, naiveAfter, tz, Number.POSITIVE_INFINITY);
    if (found.length === 0) continue;
    // A transition at midnight can put the next day's first firing before this day's last; look one day on.
    const best = found[0]!;
    const next = dayMatches(spec, day + DAY)
      ? firingsOfDay(spec, day + DAY, after, naiveAfter, tz, toNaive(best, tz) + SLACK)
      : [];
    return next.length > 0 && next[0]! < best ? next[0]! : best;
  }
  return null;
}
