// A schedule's definition, parsed and validated from `key=value` settings — the same settings whether they
// come from a `[Schedule <name>]` section of stacd.conf (or a drop-in) or from D-Bus/CLI `schedule add`.
import { ScheduleError, ValueError } from './errors.js';
import { parseCalendar, nextCalendarRun, type CalendarSpec } from './calendar.js';
import { parseSystemdTimeSpan, formatTimeSpan } from '../config/timespan.js';
import { validateTimeZone } from './zone.js';
import { parseVolumeSelectors, type VolumeSelector } from './volume-select.js';
import { splitArgv } from './argv.js';
import { PERIODS, type Period, type RetentionPolicy } from './retention.js';

export type ScheduleWhen = { kind: 'interval'; ms: number; text: string } | { kind: 'calendar'; spec: CalendarSpec };

export type ScheduleSource = { kind: 'config'; file: string; line: number } | { kind: 'runtime' };

export type LowSpaceAction = 'skip' | 'prune-oldest-first';
export type HookFailurePolicy = 'abort' | 'warn';

export interface ScheduleDef {
  name: string;
  source: ScheduleSource;
  /** the settings as given (normalised keys), for display and persistence */
  settings: Record<string, string>;
  enabled: boolean;
  volumes: VolumeSelector[];
  when: ScheduleWhen;
  timeZone: string;
  jitterMs: number;
  retention: RetentionPolicy;
  /** free-space guard: minimum free percentage of the pool before a snapshot is taken */
  minFreePercent?: number;
  lowSpace: LowSpaceAction;
  preHook?: string[];
  postHook?: string[];
  hookTimeoutMs: number;
  onFailure: HookFailurePolicy;
}

export interface SettingEntry {
  key: string;
  value: string;
  /** "file:line" of the setting, for error messages */
  where?: string;
}

export const SCHEDULE_KEYS = [
  'volumes',
  'interval',
  'calendar',
  'timezone',
  'jitter',
  'enabled',
  'keep-hourly',
  'keep-daily',
  'keep-weekly',
  'keep-monthly',
  'keep-yearly',
  'keep-at-least',
  'max-age',
  'min-free',
  'low-space',
  'pre-hook',
  'post-hook',
  'hook-timeout',
  'on-failure',
] as const;

export const DEFAULT_HOOK_TIMEOUT_MS = 60_000;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validateScheduleName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new ScheduleError(
      name,
      undefined,
      'a schedule name is 1-64 characters of letters, digits, "_", "." and "-", starting with a letter or digit',
    );
  }
}

function nonNegativeInt(v: string): number {
  if (!/^\s*\d+\s*$/.test(v)) throw new ValueError(`"${v}" must be a non-negative integer`);
  return Number(v);
}

function bool(v: string): boolean {
  const s = v.trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(s)) return true;
  if (['false', 'no', 'off', '0'].includes(s)) return false;
  throw new ValueError(`"${v}" must be true or false`);
}

function oneOf<T extends string>(v: string, allowed: readonly T[]): T {
  const s = v.trim() as T;
  if (!allowed.includes(s)) throw new ValueError(`"${v}" must be one of ${allowed.join(', ')}`);
  return s;
}

function percent(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(v);
  if (!m || Number(m[1]) > 100) throw new ValueError(`"${v}" must be a percentage 0-100 (e.g. 10%)`);
  return Number(m[1]);
}

/** A systemd-style time span in milliseconds. */
function spanMs(v: string): number {
  const r = parseSystemdTimeSpan(v);
  if ('error' in r) throw new ValueError(r.error);
  return r.ms;
}

function argv(v: string): string[] {
  const a = splitArgv(v);
  if (a.length === 0) throw new ValueError('empty command');
  if (!a[0]!.startsWith('/'))
    throw new ValueError(`"${a[0]}" must be an absolute path (hooks are run without a shell or PATH search)`);
  return a;
}

/**
 * Builds a ScheduleDef from settings (later entries override earlier ones, as drop-ins override the main file).
 * Throws ScheduleError naming the schedule and the field for the first problem found.
 */
export function parseSchedule(name: string, entries: readonly SettingEntry[], source: ScheduleSource): ScheduleDef {
  validateScheduleName(name);
  const raw = new Map<string, SettingEntry>();
  for (const e of entries) {
    const key = e.key.trim().toLowerCase();
    if (!(SCHEDULE_KEYS as readonly string[]).includes(key)) {
      throw new ScheduleError(name, key, `unknown setting (known: ${SCHEDULE_KEYS.join(', ')})`, e.where);
    }
    raw.set(key, { ...e, key, value: e.value.trim() });
  }
  const field = <T>(key: string, parse: (v: string) => T): T | undefined => {
    const e = raw.get(key);
    if (!e) return undefined;
    try {
      return parse(e.value);
    } catch (err) {
      if (err instanceof ValueError) throw new ScheduleError(name, key, err.message, e.where);
      throw err;
    }
  };
  const where = source.kind === 'config' ? `${source.file}:${source.line}` : undefined;

  const volumes = field('volumes', parseVolumeSelectors);
  if (!volumes)
    throw new ScheduleError(name, 'volumes', 'missing: say which volumes (names, globs or label:key=value)', where);

  const timeZone = field('timezone', validateTimeZone) ?? 'UTC';
  const interval = field('interval', (v) => {
    const ms = spanMs(v);
    if (ms < 60_000) throw new ValueError(`"${v}" is shorter than the minimum of 1min`);
    return ms;
  });
  const calendar = field('calendar', parseCalendar);
  if (interval !== undefined && calendar)
    throw new ScheduleError(
      name,
      'calendar',
      'give either interval= or calendar=, not both',
      raw.get('calendar')!.where,
    );
  let when: ScheduleWhen;
  if (calendar) {
    when = { kind: 'calendar', spec: calendar };
  } else if (interval !== undefined) {
    when = { kind: 'interval', ms: interval, text: formatTimeSpan(interval) };
  } else {
    throw new ScheduleError(
      name,
      'interval',
      'missing: give interval= (e.g. 1h) or calendar= (e.g. daily, *-*-* 02:00)',
      where,
    );
  }

  const keep: Partial<Record<Period, number>> = {};
  for (const p of PERIODS) {
    const n = field(`keep-${p}`, nonNegativeInt);
    if (n !== undefined) keep[p] = n;
  }
  const retention: RetentionPolicy = { schedule: name, timeZone, keep };
  const maxAge = field('max-age', spanMs);
  if (maxAge !== undefined) retention.maxAgeMs = maxAge;
  const keepAtLeast = field('keep-at-least', nonNegativeInt);
  if (keepAtLeast !== undefined) retention.keepAtLeast = keepAtLeast;

  const jitterMs = field('jitter', spanMs) ?? 0;
  const period = when.kind === 'interval' ? when.ms : undefined;
  if (period !== undefined && jitterMs >= period) {
    throw new ScheduleError(
      name,
      'jitter',
      `${formatTimeSpan(jitterMs)} must be shorter than the interval ${formatTimeSpan(period)}`,
      raw.get('jitter')!.where,
    );
  }

  const def: ScheduleDef = {
    name,
    source,
    settings: Object.fromEntries([...raw.values()].map((e) => [e.key, e.value])),
    enabled: field('enabled', bool) ?? true,
    volumes,
    when,
    timeZone,
    jitterMs,
    retention,
    lowSpace: field('low-space', (v) => oneOf(v, ['skip', 'prune-oldest-first'] as const)) ?? 'skip',
    hookTimeoutMs:
      field('hook-timeout', (v) => {
        const ms = spanMs(v);
        if (ms <= 0) throw new ValueError(`"${v}" must be longer than 0`);
        return ms;
      }) ?? DEFAULT_HOOK_TIMEOUT_MS,
    onFailure: field('on-failure', (v) => oneOf(v, ['abort', 'warn'] as const)) ?? 'abort',
  };
  const minFree = field('min-free', percent);
  if (minFree !== undefined) def.minFreePercent = minFree;
  const pre = field('pre-hook', argv);
  if (pre) def.preHook = pre;
  const post = field('post-hook', argv);
  if (post) def.postHook = post;
  if (raw.has('low-space') && minFree === undefined) {
    throw new ScheduleError(name, 'low-space', 'has no effect without min-free=', raw.get('low-space')!.where);
  }
  return def;
}

/** Next nominal (un-jittered) run strictly after `after`; null if the calendar never fires again. */
export function nextNominalRun(def: ScheduleDef, after: number): number | null {
  if (def.when.kind === 'interval') {
    // aligned to the epoch, so a restart does not shift the grid and all runs share one cadence
    return (Math.floor(after / def.when.ms) + 1) * def.when.ms;
  }
  return nextCalendarRun(def.when.spec, after, def.timeZone);
}

/** Human description of when a schedule runs. */
export function describeWhen(def: ScheduleDef): string {
  return def.when.kind === 'interval' ? `every ${def.when.text}` : `${def.when.spec.normalized} ${def.timeZone}`;
}
