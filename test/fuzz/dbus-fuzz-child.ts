// The D-Bus fuzzing client, run as a child process so that it can run as root or as `nobody` (runuser). It draws
// `count` calls from the seed (methods of the introspection XML files with right and wrong signatures and extreme
// values, Properties, Introspect, unknown members, members on the wrong object), keeps `concurrency` in flight,
// and prints one JSON line per call with how it was answered. The parent asserts on those lines.
//   node dbus-fuzz-child.js '<json FuzzPlan>'   (DBUS_SYSTEM_BUS_ADDRESS names the bus)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { parseIntrospection, type InterfaceSpec } from '../../daemons/dbus/introspection.js';
import { repoRoot } from '../harness/repo.js';
import { rng, type Rng } from '../harness/rng.js';
import {
  completeTypes,
  deepArray,
  randomObjectPath,
  randomSignature,
  randomString,
  randomValue,
  type ValueContext,
} from './dbus-values.js';

export interface FuzzObject {
  destination: string;
  path: string;
  /** interfaces of the XML files implemented at this path */
  interfaces: string[];
}

export interface FuzzPlan {
  seed: number;
  count: number;
  concurrency: number;
  timeoutMs: number;
  objects: FuzzObject[];
  /** names of volumes, snapshots, schedules that exist */
  names: string[];
  /** send signals too (forged NameOwnerChanged, stafd's signals, random ones), to the daemons' unique names */
  signals: boolean;
}

export interface FuzzCall {
  i: number;
  destination: string;
  path: string;
  interface: string | undefined;
  member: string;
  signature: string;
  /** the kind of case, for the summary */
  kind: string;
}

export interface FuzzResult extends FuzzCall {
  /** 'sent': a signal, which has no answer */
  outcome: 'reply' | 'error' | 'timeout' | 'client-error' | 'sent';
  ms: number;
  error?: string;
  /** the start of the error text */
  text?: string;
  /** the error text carries a JavaScript stack trace */
  stack?: boolean;
}

const STACK = /^\s+at .+:\d+:\d+\)?$/m;
const PROPS = 'org.freedesktop.DBus.Properties';

function loadInterfaces(): Map<string, InterfaceSpec> {
  const dir = join(repoRoot(), 'dbus-interfaces');
  const out = new Map<string, InterfaceSpec>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.xml')))
    for (const i of parseIntrospection(readFileSync(join(dir, f), 'utf8'), f).interfaces) out.set(i.name, i);
  return out;
}

/** A valid member name (at most 255 characters, sometimes near that), or an interface element of at most 120. */
function memberName(r: Rng, element = false): string {
  const first = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_';
  const rest = first + '0123456789';
  let s = first[r.int(first.length)]!;
  for (let n = r.chance(0.05) ? (element ? 100 : 200) + r.int(20) : r.int(20); n > 0; n--)
    s += rest[r.int(rest.length)];
  return s;
}

function interfaceName(r: Rng, known: string[]): string | undefined {
  if (r.chance(0.15)) return undefined; // a method call may omit the interface
  if (r.chance(0.5)) return r.pick(known);
  return `${memberName(r, true)}.${memberName(r, true)}`;
}

function values(r: Rng, sig: string, ctx: ValueContext): unknown[] {
  return completeTypes(sig).map((t) => randomValue(r, t, ctx));
}

/** One case, from its own generator (so that case i is the same whatever the other cases drew). */
export function makeCase(
  r: Rng,
  i: number,
  plan: FuzzPlan,
  ifaces: Map<string, InterfaceSpec>,
): FuzzCall & { body: unknown[] } {
  const ctx: ValueContext = { names: plan.names, paths: plan.objects.map((o) => o.path), budget: { bytes: 6 << 20 } };
  const obj = r.pick(plan.objects);
  const specs = obj.interfaces.map((n) => ifaces.get(n)).filter((s): s is InterfaceSpec => !!s);
  const allNames = [
    ...ifaces.keys(),
    PROPS,
    'org.freedesktop.DBus.Introspectable',
    'org.freedesktop.DBus.Peer',
    'org.freedesktop.DBus.ObjectManager',
  ];
  const base = { i, destination: obj.destination, path: obj.path };
  const k = r.int(100);
  const withMethods = specs.filter((s) => s.methods.length);
  if (k < 40 && withMethods.length) {
    const s = r.pick(withMethods);
    const m = r.pick(s.methods);
    return {
      ...base,
      kind: 'method',
      interface: s.name,
      member: m.name,
      signature: m.inSignature,
      body: values(r, m.inSignature, ctx),
    };
  }
  if (k < 55 && withMethods.length) {
    const s = r.pick(withMethods);
    const m = r.pick(s.methods);
    if (r.chance(0.3)) {
      const d = deepArray(r);
      return {
        ...base,
        kind: 'deep-array',
        interface: s.name,
        member: m.name,
        signature: d.signature,
        body: [d.value],
      };
    }
    let sig = randomSignature(r);
    if (sig === m.inSignature) sig += 's';
    return {
      ...base,
      kind: 'wrong-signature',
      interface: s.name,
      member: m.name,
      signature: sig,
      body: values(r, sig, ctx),
    };
  }
  if (k < 70) {
    const member = r.pick(['Get', 'GetAll', 'Set', 'Set', 'Get']);
    const spec = specs.length ? r.pick(specs) : undefined;
    const iface = spec && r.chance(0.8) ? spec.name : randomString(r, allNames);
    const prop = spec?.properties.length && r.chance(0.8) ? r.pick(spec.properties).name : randomString(r);
    if (r.chance(0.15)) {
      const sig = randomSignature(r);
      return { ...base, kind: 'properties-bad', interface: PROPS, member, signature: sig, body: values(r, sig, ctx) };
    }
    if (member === 'GetAll')
      return { ...base, kind: 'properties', interface: PROPS, member, signature: 's', body: [iface] };
    if (member === 'Get')
      return { ...base, kind: 'properties', interface: PROPS, member, signature: 'ss', body: [iface, prop] };
    const v = randomValue(r, 'v', ctx);
    return { ...base, kind: 'properties', interface: PROPS, member, signature: 'ssv', body: [iface, prop, v] };
  }
  if (k < 75) {
    const path = r.chance(0.5) ? obj.path : randomObjectPath(r, ctx.paths);
    return {
      ...base,
      path,
      kind: 'introspect',
      interface: 'org.freedesktop.DBus.Introspectable',
      member: 'Introspect',
      signature: '',
      body: [],
    };
  }
  if (k < 85) {
    const sig = r.chance(0.5) ? '' : randomSignature(r, 2);
    const path = r.chance(0.7) ? obj.path : randomObjectPath(r, ctx.paths);
    const known = [...specs.flatMap((s) => s.methods.map((m) => m.name)), 'Get', 'Set', 'Introspect'];
    const member = r.chance(0.4) && known.length ? r.pick(known) : memberName(r);
    return {
      ...base,
      path,
      kind: 'unknown-member',
      interface: interfaceName(r, allNames),
      member,
      signature: sig,
      body: values(r, sig, ctx),
    };
  }
  if (k < 90) {
    // a real member on an object that does not implement it
    const all = [...ifaces.values()].filter((s) => s.methods.length);
    const s = r.pick(all);
    const m = r.pick(s.methods);
    const path = r.chance(0.5) ? r.pick(plan.objects).path : randomObjectPath(r, ctx.paths);
    return {
      ...base,
      path,
      kind: 'wrong-object',
      interface: s.name,
      member: m.name,
      signature: m.inSignature,
      body: values(r, m.inSignature, ctx),
    };
  }
  if (k < 98 && plan.signals) return signalCase(r, i, ctx);
  const std = r.pick([
    ['org.freedesktop.DBus.Peer', 'Ping'],
    ['org.freedesktop.DBus.Peer', 'GetMachineId'],
    ['org.freedesktop.DBus.ObjectManager', 'GetManagedObjects'],
  ] as const);
  const path = r.chance(0.5) ? obj.path : randomObjectPath(r, ctx.paths);
  return { ...base, path, kind: 'standard', interface: std[0], member: std[1], signature: '', body: [] };
}

const BUS_NAMES = ['org.nvmexpress.staf', 'org.nvmexpress.stac', 'org.freedesktop.Avahi', 'org.freedesktop.DBus'];

/** A signal as anyone on the bus may send one: forged bus/stafd/Avahi signals or random ones. Its destination is
 *  resolved to the daemon's unique name when sent (a directed signal reaches it whatever its match rules). */
function signalCase(r: Rng, i: number, ctx: ValueContext): FuzzCall & { body: unknown[] } {
  const destination = r.pick(['org.nvmexpress.staf', 'org.nvmexpress.stac']);
  const base = { i, destination, kind: 'signal' };
  switch (r.int(4)) {
    case 0: {
      const name = r.chance(0.8) ? r.pick(BUS_NAMES) : randomString(r);
      const owner = (): string => r.pick(['', `:1.${r.int(1000)}`, randomString(r)]);
      return {
        ...base,
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'NameOwnerChanged',
        signature: 'sss',
        body: [name, owner(), owner()],
      };
    }
    case 1: {
      const tid = Array.from({ length: 8 }, () => randomString(r, ctx.names));
      return {
        ...base,
        path: '/org/nvmexpress/staf',
        interface: 'org.nvmexpress.staf',
        member: 'log_pages_changed',
        signature: 'ssssssss',
        body: tid,
      };
    }
    case 2:
      return {
        ...base,
        path: '/org/nvmexpress/staf',
        interface: 'org.nvmexpress.staf',
        member: 'dc_removed',
        signature: '',
        body: [],
      };
    default: {
      const sig = randomSignature(r, 3);
      return {
        ...base,
        path: randomObjectPath(r, ctx.paths),
        interface: `${memberName(r, true)}.${memberName(r, true)}`,
        member: memberName(r),
        signature: sig,
        body: values(r, sig, ctx),
      };
    }
  }
}

async function sendSignal(
  bus: dbus.MessageBus,
  c: FuzzCall & { body: unknown[] },
  owners: Map<string, string>,
): Promise<FuzzResult> {
  const { body, ...call } = c;
  try {
    const destination = owners.get(c.destination);
    bus.send(
      new dbus.Message({
        type: dbus.MessageType.SIGNAL,
        destination,
        path: c.path,
        interface: c.interface,
        member: c.member,
        signature: c.signature,
        body,
      }),
    );
    return { ...call, outcome: 'sent', ms: 0 };
  } catch (e) {
    return {
      ...call,
      outcome: 'client-error',
      ms: 0,
      text: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : String(e).slice(0, 300),
    };
  }
}

async function callOne(
  bus: dbus.MessageBus,
  c: FuzzCall & { body: unknown[] },
  timeoutMs: number,
): Promise<FuzzResult> {
  const { body, ...call } = c;
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const msg = new dbus.Message({
      destination: c.destination,
      path: c.path,
      interface: c.interface,
      member: c.member,
      signature: c.signature,
      body,
    });
    const timeout = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)));
    const r = await Promise.race([bus.call(msg), timeout]);
    if (r === 'timeout') return { ...call, outcome: 'timeout', ms: Date.now() - t0 };
    return { ...call, outcome: 'reply', ms: Date.now() - t0 };
  } catch (e) {
    const ms = Date.now() - t0;
    if (e instanceof Error && e.name === 'DBusError') {
      const de = e as InstanceType<typeof dbus.DBusError>;
      const text = String(de.text ?? '');
      return { ...call, outcome: 'error', ms, error: de.type, text: text.slice(0, 300), stack: STACK.test(text) };
    }
    return {
      ...call,
      outcome: 'client-error',
      ms,
      text: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : String(e).slice(0, 300),
    };
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2]!) as FuzzPlan;
  const ifaces = loadInterfaces();
  const bus = dbus.systemBus();
  let lost = '';
  bus.on('error', (e: Error) => (lost = e.message));
  const owners = new Map<string, string>();
  for (const name of ['org.nvmexpress.staf', 'org.nvmexpress.stac']) {
    const reply = await bus.call(
      new dbus.Message({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'GetNameOwner',
        signature: 's',
        body: [name],
      }),
    );
    owners.set(name, String(reply?.body[0]));
  }
  const master = rng(plan.seed);
  const cases = Array.from({ length: plan.count }, () => master.fork()).map(
    (r, i) => () => makeCase(r, i, plan, ifaces),
  );
  // first, whatever the seed: the forgeries that steered the daemons (issue #17, defect 3), "stafd/Avahi left the
  // bus" sent straight to each daemon
  if (plan.signals)
    for (const destination of ['org.nvmexpress.staf', 'org.nvmexpress.stac'])
      for (const name of ['org.nvmexpress.staf', 'org.freedesktop.Avahi'])
        cases.unshift(() => ({
          i: -1,
          destination,
          kind: 'signal',
          path: '/org/freedesktop/DBus',
          interface: 'org.freedesktop.DBus',
          member: 'NameOwnerChanged',
          signature: 'sss',
          body: [name, owners.get(name) ?? ':1.1', ''],
        }));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length && !lost) {
      const c = cases[next++]!();
      const res = c.kind === 'signal' ? await sendSignal(bus, c, owners) : await callOne(bus, c, plan.timeoutMs);
      process.stdout.write(JSON.stringify(res) + '\n');
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  if (lost) {
    process.stderr.write(`lost the bus connection: ${lost}\n`);
    process.exitCode = 2;
  }
  bus.disconnect();
}

await main();
