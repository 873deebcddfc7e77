// Random D-Bus signatures and values in the form dbus-next marshals (bigint for 64-bit integers, plain objects for
// dictionaries, arrays for structs, dbus.Variant for variants). Everything generated is a *valid message*: the bus
// would disconnect the fuzzing client, not test the daemon, on a NUL in a string, bad UTF-8, a bad object path or a
// signature over the protocol's limits (255 characters, 32 nested arrays, 32 nested structs).
import dbus from 'dbus-next';
import type { Rng } from '../harness/rng.js';

const BASIC = ['y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 's', 'o', 'g'] as const;
/** dictionary keys dbus-next marshals from object keys without conversion */
const KEYS = ['s', 'o'] as const;

/** Splits a signature into its complete types ("sa{sv}(ii)" → ["s", "a{sv}", "(ii)"]). */
export function completeTypes(sig: string): string[] {
  const out: string[] = [];
  let i = 0;
  const one = (): void => {
    const c = sig[i++];
    if (c === 'a') return one();
    if (c === '(' || c === '{') {
      const close = c === '(' ? ')' : '}';
      while (sig[i] !== close) {
        if (i >= sig.length) throw new Error(`unterminated ${c} in "${sig}"`);
        one();
      }
      i++;
    }
  };
  while (i < sig.length) {
    const start = i;
    one();
    out.push(sig.slice(start, i));
  }
  return out;
}

/** A random complete type, at most `depth` containers deep. */
export function randomType(r: Rng, depth = 3): string {
  const k = depth <= 0 ? 0 : r.int(10);
  if (k < 6) return r.pick(BASIC);
  if (k === 6) return 'v';
  if (k === 7) return 'a' + randomType(r, depth - 1);
  if (k === 8) return `a{${r.pick(KEYS)}${randomType(r, depth - 1)}}`;
  const n = 1 + r.int(4);
  return '(' + Array.from({ length: n }, () => randomType(r, depth - 1)).join('') + ')';
}

/** A random signature of 0..max complete types. */
export function randomSignature(r: Rng, max = 5): string {
  let sig = '';
  for (let n = r.int(max + 1); n > 0; n--) {
    const t = randomType(r);
    if (sig.length + t.length > 200) break;
    sig += t;
  }
  return sig;
}

/** Characters for random text: anything but NUL, surrogates and the noncharacters some libdbus versions refuse. */
function randomChar(r: Rng): string {
  for (;;) {
    const range = r.int(4);
    const cp =
      range === 0
        ? 1 + r.int(0x7f)
        : range === 1
          ? 0x80 + r.int(0x780)
          : range === 2
            ? 0x800 + r.int(0xf800)
            : 0x10000 + r.int(0x100000);
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) continue;
    return String.fromCodePoint(cp);
  }
}

export function randomText(r: Rng, maxChars: number): string {
  let s = '';
  for (let n = r.int(maxChars + 1); n > 0; n--) s += randomChar(r);
  return s;
}

/** What is left of one message's room for huge strings (the bus refuses messages over 32 MiB). */
export interface Budget {
  bytes: number;
}

/** Strings a handler may take for a name, a size, a path or a key; `known` adds names that exist. */
export function randomString(r: Rng, known: readonly string[] = [], budget: Budget = { bytes: 4 << 20 }): string {
  switch (r.int(12)) {
    case 0:
      return '';
    case 1: {
      // huge: up to 256 Ki repetitions, sometimes 1 Mi (a 4-byte character makes that 4 MiB)
      const unit = r.pick(['x', 'é', '𝄞', 'a;b=c']);
      const n = r.chance(0.1) ? 1 << 20 : 1 + r.int(1 << 18);
      const bytes = Buffer.byteLength(unit) * n;
      if (bytes > budget.bytes)
        return unit.repeat(Math.max(1, Math.floor(budget.bytes / Buffer.byteLength(unit) / 64)));
      budget.bytes -= bytes;
      return unit.repeat(n);
    }
    case 2:
    case 3:
      return randomText(r, 64);
    case 4:
      return r.pick([
        '.',
        '..',
        '../../etc/passwd',
        '/',
        'a/b',
        '-rf',
        '--help',
        ' ',
        ' lead',
        'trail ',
        'a\nb',
        '\t',
        '*',
        '?',
        '@',
        'v@s',
        '%s%n',
        '${HOME}',
        '`id`',
        '$(id)',
        "'",
        '"',
        '\\',
      ]);
    case 5:
      return r.pick([
        '-1',
        '0',
        '18446744073709551616',
        '1e309',
        'NaN',
        'Infinity',
        '0x10',
        '1.5GiB',
        '512TiB',
        '-0',
        '9'.repeat(400),
      ]);
    case 6:
      return r.pick([
        'tcp',
        'rdma',
        'fc',
        'loop',
        '127.0.0.1',
        '::1',
        'fe80::1%lo',
        '8009',
        '4420',
        'nqn.2014-08.org.nvmexpress.discovery',
        'lo',
        'qcow2',
        'rbd',
        'default',
      ]);
    case 7:
    case 8:
      if (known.length) return r.pick(known);
      return 'fz' + r.int(100);
    case 9:
      return r.pick([
        'tron',
        'log_level',
        'Name',
        'Size',
        'Pools',
        'State',
        'qos_iops',
        'performance_priority',
        'pool',
        'parent',
        'calendar',
        'retention',
        'volumes',
        'hourly',
        'keep-hourly',
      ]);
    case 10:
      return 'a'.repeat(1 + r.int(300));
    default:
      return randomText(r, 8) + r.pick(['', ';', '=', ',', ':', '@']) + randomText(r, 8);
  }
}

export function randomObjectPath(r: Rng, known: readonly string[] = []): string {
  if (known.length && r.chance(0.5)) {
    const base = r.pick(known);
    return r.chance(0.5) ? base : `${base === '/' ? '' : base}/${randomSegment(r)}`;
  }
  const n = r.chance(0.05) ? 40 + r.int(200) : r.int(6);
  if (n === 0) return '/';
  return Array.from({ length: n }, () => '/' + randomSegment(r)).join('');
}

function randomSegment(r: Rng): string {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
  let s = '';
  for (let n = 1 + (r.chance(0.1) ? r.int(2000) : r.int(12)); n > 0; n--) s += chars[r.int(chars.length)];
  return s;
}

const INT_EDGES: Record<string, number[]> = {
  y: [0, 1, 127, 128, 255],
  n: [-32768, -1, 0, 1, 32767],
  q: [0, 1, 32768, 65535],
  i: [-2147483648, -1, 0, 1, 2147483647],
  u: [0, 1, 2147483648, 4294967295],
};
// dbus-next refuses the exact minimum of int64 (its bound is off by one) and doubles that are NaN or infinite
const X_EDGES = [-(2n ** 63n) + 1n, -1n, 0n, 1n, 2n ** 31n, 2n ** 53n + 1n, 2n ** 63n - 1n];
const T_EDGES = [
  0n,
  1n,
  511n,
  512n,
  4096n,
  2n ** 30n,
  2n ** 40n,
  512n * 2n ** 40n,
  512n * 2n ** 40n + 512n,
  2n ** 53n + 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];

export interface ValueContext {
  /** strings that name existing things (volumes, snapshots, schedules) */
  names: readonly string[];
  /** object paths that exist */
  paths: readonly string[];
  /** room left in the message being built */
  budget: Budget;
}

/** A random value of the complete type `t`. */
export function randomValue(r: Rng, t: string, ctx: ValueContext, depth = 0): unknown {
  const c = t[0]!;
  switch (c) {
    case 'y':
    case 'n':
    case 'q':
    case 'i':
    case 'u': {
      const edges = INT_EDGES[c]!;
      if (r.chance(0.6)) return r.pick(edges);
      const lo = edges[0]!;
      const hi = edges[edges.length - 1]!;
      return lo + Math.floor((r.u32() / 0x1_0000_0000) * (hi - lo + 1));
    }
    case 'x':
      return r.chance(0.6)
        ? r.pick(X_EDGES)
        : BigInt.asIntN(64, (BigInt(r.u32() & 0x7fffffff) << 32n) | BigInt(r.u32())) * (r.chance(0.5) ? -1n : 1n);
    case 't':
      return r.chance(0.6)
        ? r.pick(T_EDGES)
        : BigInt.asUintN(64, (BigInt(r.u32()) << BigInt(r.int(33))) | BigInt(r.u32()));
    case 'b':
      return r.chance(0.5);
    case 'd':
      return r.pick([0, -0, 1.5, -1, 1e308, -1e308, 5e-324, Number.MAX_VALUE, r.u32() / 7]);
    case 's':
      return randomString(r, ctx.names, ctx.budget);
    case 'o':
      return randomObjectPath(r, ctx.paths);
    case 'g':
      return randomSignature(r, 3);
    case 'v': {
      const inner = randomType(r, Math.max(0, 2 - depth));
      return new dbus.Variant(inner, randomValue(r, inner, ctx, depth + 1));
    }
    case 'a': {
      const elem = t.slice(1);
      // long arrays only at the top level, so that nesting cannot multiply them
      const n = depth === 0 && r.chance(0.05) ? r.int(5000) : r.int(4);
      if (elem[0] === '{') {
        const [k, v] = completeTypes(elem.slice(1, -1)) as [string, string];
        const obj: Record<string, unknown> = {};
        for (let i = 0; i < n; i++)
          obj[randomValue(r, k, ctx, depth + 1) as string] = randomValue(r, v, ctx, depth + 1);
        return obj;
      }
      return Array.from({ length: n }, () => randomValue(r, elem, ctx, depth + 1));
    }
    case '(':
      return completeTypes(t.slice(1, -1)).map((e) => randomValue(r, e, ctx, depth + 1));
    default:
      throw new Error(`no generator for type "${t}"`);
  }
}

/** A deeply nested array type (up to the protocol's limit of 32) with one leaf: `aaa…s` and [[[…"x"]]]. */
export function deepArray(r: Rng): { signature: string; value: unknown } {
  const depth = 1 + r.int(32);
  let value: unknown = r.chance(0.5) ? randomString(r, [], { bytes: 1 << 20 }) : 'x';
  for (let i = 0; i < depth; i++) value = [value];
  return { signature: 'a'.repeat(depth) + 's', value };
}
