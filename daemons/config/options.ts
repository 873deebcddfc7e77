// The option tables of stafd.conf and stacd.conf (nvme-stas's OPTION_CHECKER plus each daemon's default table) and
// the per-value validation pipeline: text check -> conversion -> range check -> list check. Any failure gives a
// warning naming file:line and the value used instead, and falls back to the daemon's default.
import { ConfigWarning, type SourceRef } from './errors.js';
import { parseTimeSpan, timeSpanRepr, type TimeSpan } from './timespan.js';
import { echoValue } from '../common/echo.js';

export type ServiceKind = 'stafd' | 'stacd';
/** `ip-family` as nvme-stas holds it: (4, 6), (6, 4), (4,) or (6,) */
export type IpFamily = readonly (4 | 6)[];
export type DisconnectScope = 'only-stas-connections' | 'all-connections-matching-disconnect-trtypes' | 'no-disconnect';

export const SEC_GLOBAL = 'Global';
export const SEC_SD = 'Service Discovery';
export const SEC_DCCM = 'Discovery controller connection management';
export const SEC_IOCCM = 'I/O controller connection management';
export const SEC_CONTROLLERS = 'Controllers';

/** Every scalar option and the type of its converted value (null = "not set: driver/libnvme default"). */
export interface OptionTypes {
  'Global/tron': boolean;
  'Global/hdr-digest': boolean;
  'Global/data-digest': boolean;
  'Global/kato': number | null;
  'Global/queue-size': number | null;
  'Global/nr-io-queues': number | null;
  'Global/nr-write-queues': number | null;
  'Global/nr-poll-queues': number | null;
  'Global/reconnect-delay': number | null;
  'Global/ctrl-loss-tmo': number | null;
  'Global/disable-sqflow': boolean | null;
  'Global/ignore-iface': boolean;
  'Global/ip-family': IpFamily;
  'Global/pleo': boolean;
  'Service Discovery/zeroconf': boolean;
  'Discovery controller connection management/persistent-connections': boolean;
  'Discovery controller connection management/zeroconf-connections-persistence': TimeSpan;
  'I/O controller connection management/disconnect-scope': DisconnectScope;
  'I/O controller connection management/disconnect-trtypes': readonly string[];
  'I/O controller connection management/connect-attempts-on-ncc': number;
  // stas resource caps against hostile or broken peers (not in nvme-stas)
  'Discovery controller connection management/max-log-entries': number;
  'Discovery controller connection management/max-referrals-per-controller': number;
  'Discovery controller connection management/max-referrals': number;
  'I/O controller connection management/max-controllers': number;
  'I/O controller connection management/max-connects-in-flight': number;
}
export type OptionKey = keyof OptionTypes;
export type OptionValue = OptionTypes[OptionKey];

const INVALID: unique symbol = Symbol('invalid');
type Converted<T> = T | typeof INVALID;

export interface OptionSpec<T> {
  readonly section: string;
  readonly name: string;
  /** nvme-stas checker default (used when the daemon's own table has no entry) */
  readonly default: T;
  readonly textCheck?: { readonly accepts: (text: string) => boolean; readonly expected: string };
  readonly convert: (text: string) => Converted<T>;
  readonly convertError?: string;
  readonly range?: readonly [number, number];
  /** for lists: the accepted items */
  readonly listCheck?: readonly string[];
}

/** Python int(): optional sign, digits with single `_` between them, surrounding whitespace. */
export function pythonInt(text: string): number | undefined {
  const t = text.trim();
  if (!/^[+-]?\d(?:_?\d)*$/.test(t)) return undefined;
  return Number(t.replaceAll('_', ''));
}

const oneOf = (values: readonly string[], caseInsensitive: boolean) => ({
  accepts: (t: string): boolean => values.includes(caseInsensitive ? t.toLowerCase() : t),
  expected: values.join(', '),
});
const toInt = (t: string): Converted<number> => pythonInt(t) ?? INVALID;
const boolSpec = (section: string, name: string, dflt: boolean | null, positive = 'true', negative = 'false') => ({
  section,
  name,
  default: dflt,
  textCheck: oneOf([negative, positive], true),
  convert: (t: string): Converted<boolean> => t.toLowerCase() === positive,
});
const intSpec = (name: string, range?: readonly [number, number]): OptionSpec<number | null> => ({
  section: SEC_GLOBAL,
  name,
  default: null,
  convert: toInt,
  convertError: 'is not an integer',
  range,
});

/** A resource cap: an integer within `range`, `dflt` when absent or invalid. */
const capSpec = (
  section: string,
  name: string,
  dflt: number,
  range: readonly [number, number],
): OptionSpec<number> => ({
  section,
  name,
  default: dflt,
  convert: toInt,
  convertError: 'is not an integer',
  range,
});

export const OPTION_SPECS: { readonly [K in OptionKey]: OptionSpec<OptionTypes[K]> } = {
  'Global/tron': boolSpec(SEC_GLOBAL, 'tron', false) as OptionSpec<boolean>,
  'Global/hdr-digest': boolSpec(SEC_GLOBAL, 'hdr-digest', false) as OptionSpec<boolean>,
  'Global/data-digest': boolSpec(SEC_GLOBAL, 'data-digest', false) as OptionSpec<boolean>,
  'Global/kato': intSpec('kato'),
  'Global/queue-size': intSpec('queue-size', [16, 1024]),
  'Global/nr-io-queues': intSpec('nr-io-queues'),
  'Global/nr-write-queues': intSpec('nr-write-queues'),
  'Global/nr-poll-queues': intSpec('nr-poll-queues'),
  'Global/reconnect-delay': intSpec('reconnect-delay'),
  'Global/ctrl-loss-tmo': intSpec('ctrl-loss-tmo'),
  'Global/disable-sqflow': boolSpec(SEC_GLOBAL, 'disable-sqflow', null),
  'Global/ignore-iface': boolSpec(SEC_GLOBAL, 'ignore-iface', false) as OptionSpec<boolean>,
  'Global/ip-family': {
    section: SEC_GLOBAL,
    name: 'ip-family',
    default: [4, 6],
    textCheck: oneOf(['ipv4', 'ipv6', 'ipv4+ipv6', 'ipv6+ipv4'], false),
    convert: (t) => t.split('+').map((x) => (x === 'ipv4' ? 4 : 6)),
  },
  'Global/pleo': boolSpec(SEC_GLOBAL, 'pleo', true, 'enabled', 'disabled') as OptionSpec<boolean>,
  'Service Discovery/zeroconf': boolSpec(SEC_SD, 'zeroconf', true, 'enabled', 'disabled') as OptionSpec<boolean>,
  'Discovery controller connection management/persistent-connections': boolSpec(
    SEC_DCCM,
    'persistent-connections',
    true,
  ) as OptionSpec<boolean>,
  'Discovery controller connection management/zeroconf-connections-persistence': {
    section: SEC_DCCM,
    name: 'zeroconf-connections-persistence',
    default: { seconds: 259200, isFloat: false },
    // nvme-stas stores None here without a warning and later fails on `None >= 0`; stas falls back to the default
    convert: (t) => parseTimeSpan(t) ?? INVALID,
    convertError: 'is not a time span (e.g. 72hours, 3 days 5 hours, 1:30:00, -1 for forever)',
  },
  'I/O controller connection management/disconnect-scope': {
    section: SEC_IOCCM,
    name: 'disconnect-scope',
    default: 'only-stas-connections',
    textCheck: oneOf(['only-stas-connections', 'all-connections-matching-disconnect-trtypes', 'no-disconnect'], false),
    convert: (t) => t as DisconnectScope,
  },
  'I/O controller connection management/disconnect-trtypes': {
    section: SEC_IOCCM,
    name: 'disconnect-trtypes',
    default: ['tcp'],
    convert: (t) => [...new Set(t.split('+'))],
    listCheck: ['tcp', 'rdma', 'fc'],
  },
  'I/O controller connection management/connect-attempts-on-ncc': {
    section: SEC_IOCCM,
    name: 'connect-attempts-on-ncc',
    default: 0,
    // 1 is promoted to 2 (a single attempt cannot tell a lost path from a slow one); negatives accepted as-is
    convert: (t) => {
      const n = pythonInt(t);
      return n === undefined ? INVALID : n === 1 ? 2 : n;
    },
    convertError: 'is not an integer',
  },
  'Discovery controller connection management/max-log-entries': capSpec(
    SEC_DCCM,
    'max-log-entries',
    16384,
    [1, 262144],
  ),
  'Discovery controller connection management/max-referrals-per-controller': capSpec(
    SEC_DCCM,
    'max-referrals-per-controller',
    64,
    [0, 262144],
  ),
  'Discovery controller connection management/max-referrals': capSpec(SEC_DCCM, 'max-referrals', 1024, [0, 262144]),
  'I/O controller connection management/max-controllers': capSpec(SEC_IOCCM, 'max-controllers', 1024, [1, 1048576]),
  'I/O controller connection management/max-connects-in-flight': capSpec(
    SEC_IOCCM,
    'max-connects-in-flight',
    16,
    [1, 1024],
  ),
};

/** Multi-valued options (every occurrence, in order). */
export const MULTI_OPTIONS = [
  { section: SEC_CONTROLLERS, name: 'controller' },
  { section: SEC_CONTROLLERS, name: 'exclude' },
] as const;

export type KindDefaults = { readonly [K in OptionKey]?: OptionTypes[K] };

/**
 * Each daemon's default table (nvme-stas stafd.py / stacd.py at HEAD). Its keys, plus [Controllers] controller and
 * exclude, are the options that are valid for that daemon; others are flagged but still read.
 */
export const KIND_DEFAULTS: { readonly [K in ServiceKind]: KindDefaults } = {
  stafd: {
    'Global/tron': false,
    'Global/hdr-digest': false,
    'Global/data-digest': false,
    'Global/kato': 30,
    'Global/queue-size': null,
    'Global/reconnect-delay': null,
    'Global/ctrl-loss-tmo': null,
    'Global/disable-sqflow': null,
    'Discovery controller connection management/persistent-connections': true,
    'Discovery controller connection management/zeroconf-connections-persistence': { seconds: 259200, isFloat: false },
    'Global/ignore-iface': false,
    'Global/ip-family': [4, 6],
    'Global/pleo': true,
    'Service Discovery/zeroconf': true,
    'Discovery controller connection management/max-log-entries': 16384,
    'Discovery controller connection management/max-referrals-per-controller': 64,
    'Discovery controller connection management/max-referrals': 1024,
  },
  stacd: {
    'Global/tron': false,
    'Global/hdr-digest': false,
    'Global/data-digest': false,
    'Global/kato': null,
    'Global/nr-io-queues': null,
    'Global/nr-write-queues': null,
    'Global/nr-poll-queues': null,
    'Global/queue-size': null,
    'Global/reconnect-delay': null,
    'Global/ctrl-loss-tmo': null,
    'Global/disable-sqflow': null,
    'Global/ignore-iface': false,
    'Global/ip-family': [4, 6],
    'I/O controller connection management/disconnect-scope': 'only-stas-connections',
    'I/O controller connection management/disconnect-trtypes': ['tcp'],
    'I/O controller connection management/connect-attempts-on-ncc': 0,
    'I/O controller connection management/max-controllers': 1024,
    'I/O controller connection management/max-connects-in-flight': 16,
  },
};

/** Options nvme-stas used to accept, with a hint for the unknown-option warning. */
export const LEGACY_HINTS: Readonly<Record<string, string>> = {
  'Global/persistent-connections':
    'legacy option (nvme-stas 2.1-2.4); use [Discovery controller connection management] persistent-connections',
  'Controllers/blacklist': 'legacy option (nvme-stas <= 1.1); use exclude=',
  'Global/sticky-connections':
    'legacy option (nvme-stas 1.1); use [I/O controller connection management] disconnect-scope',
  'Global/udev-rule': 'legacy option (nvme-stas 1.1-2.1.2), no longer used',
  'Global/duplicate-connect': 'legacy option (nvme-stas 2.1), no longer used',
};

export function optionKey(section: string, name: string): string {
  return `${section}/${name}`;
}

export function isOptionKey(key: string): key is OptionKey {
  return Object.prototype.hasOwnProperty.call(OPTION_SPECS, key);
}

/** The set of valid "section/option" keys and sections of a daemon. */
export function validOptions(kind: ServiceKind): { sections: Set<string>; options: Set<string> } {
  const options = new Set<string>(Object.keys(KIND_DEFAULTS[kind]));
  for (const m of MULTI_OPTIONS) options.add(optionKey(m.section, m.name));
  const sections = new Set<string>([...options].map((k) => k.slice(0, k.lastIndexOf('/'))));
  return { sections, options };
}

/** The value used when an option is absent or invalid: the daemon's table first, then the checker default. */
export function fallbackValue<K extends OptionKey>(kind: ServiceKind, key: K): OptionTypes[K] {
  const table = KIND_DEFAULTS[kind];
  if (Object.prototype.hasOwnProperty.call(table, key)) return table[key] as OptionTypes[K];
  return OPTION_SPECS[key].default;
}

/** Human form of a value, as one would write it in the file (`none` when not set). */
export function describeValue(value: OptionValue | string | null): string {
  if (value === null) return 'none';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    return value.map((x: string | number) => (typeof x === 'number' ? `ipv${x}` : x)).join('+');
  }
  const ts = value as TimeSpan;
  return `${timeSpanRepr(ts)} seconds`;
}

export interface CheckOutcome<T> {
  readonly ok: boolean;
  readonly value: T;
}

/**
 * Runs the validation pipeline on one text. On failure `ok` is false and `value` is the fallback; a warning is
 * pushed built from `where` (e.g. `[Global] queue-size`) and `fallbackText` (e.g. `using default (none)`).
 */
export function checkText<T>(
  spec: OptionSpec<T>,
  text: string,
  fallback: T,
  ref: SourceRef,
  warnings: ConfigWarning[],
  where: string,
  fallbackText: string,
): CheckOutcome<T> {
  const fail = (why: string): CheckOutcome<T> => {
    warnings.push(new ConfigWarning(ref, `${where}: ${why}; ${fallbackText}`, spec.section, spec.name));
    return { ok: false, value: fallback };
  };
  if (spec.textCheck && !spec.textCheck.accepts(text)) {
    return fail(`"${echoValue(text)}" is not one of ${spec.textCheck.expected}`);
  }
  const converted = spec.convert(text);
  if (converted === INVALID) return fail(`"${echoValue(text)}" ${spec.convertError ?? 'is not valid'}`);
  if (spec.range && typeof converted === 'number') {
    const [lo, hi] = spec.range;
    if (converted < lo || converted > hi) return fail(`"${converted}" is not within range ${lo}..${hi}`);
  }
  if (spec.listCheck && Array.isArray(converted)) {
    const accepted: string[] = [];
    for (const item of converted as string[]) {
      if (spec.listCheck.includes(item)) accepted.push(item);
      else {
        warnings.push(
          new ConfigWarning(
            ref,
            `${where}: invalid item "${echoValue(item)}" ignored (valid items: ${spec.listCheck.join(', ')}, joined with "+")`,
            spec.section,
            spec.name,
          ),
        );
      }
    }
    if (accepted.length === 0) return fail(`no valid item in "${echoValue(text)}"`);
    return { ok: true, value: accepted as T };
  }
  return { ok: true, value: converted };
}
