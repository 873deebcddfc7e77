// Fuzz tier, D-Bus: the real stafd and stacd on a private system bus (stafd following a fake NVMe/TCP DC, stacd
// connecting its subsystem and serving qcow2 volumes in a temp dir) take seeded random calls on every interface of
// dbus-interfaces/*.xml — right and wrong signatures, empty/huge/random-unicode strings, extreme integers, deep
// arrays, unknown members, members on the wrong object — first as `nobody`, then as root. Every call must be
// answered in time by a reply or a D-Bus error without a stack trace, nothing a `nobody` call did may change the
// volumes, snapshots or schedules, and both daemons must still run at the end, within an RSS bound.
// STAS_FUZZ_SEED replays a run, STAS_FUZZ_COUNT sets the calls per user (default 250).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dbus from 'dbus-next';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { startDaemon, type RunningDaemon } from '../harness/daemons.js';
import { makeTestEtc, type TestEtc } from '../harness/env.js';
import { FakeTarget } from '../harness/fake-target/index.js';
import { runProcess } from '../harness/process.js';
import { waitFor } from '../harness/wait.js';
import { callMethod, waitConnected } from '../../daemons/dbus/bus.js';
import { fuzzCount, fuzzSeed, rssBytes } from './seed.js';
import type { FuzzObject, FuzzPlan, FuzzResult } from './dbus-fuzz-child.js';

const STAF = 'org.nvmexpress.staf';
const STAC = 'org.nvmexpress.stac';
const STORAGE = '/org/nvmexpress/stac/storage';
/** per call: a reply after this is a failure (the machine is small and shared; the daemons answer in ms) */
const CALL_TIMEOUT_MS = 30_000;
/** resident memory of a daemon after the run: a Node daemon idles near 70 MiB; 4 MiB strings come and go */
const RSS_LIMIT = 300 * 1024 * 1024;
const COUNT = fuzzCount(250);
const SEED = fuzzSeed('D-Bus fuzz');

let bus: PrivateBus;
let etc: TestEtc;
let target: FakeTarget;
let client: dbus.MessageBus;
const daemons: Record<'stafd' | 'stacd', RunningDaemon | undefined> = { stafd: undefined, stacd: undefined };

function call(
  destination: string,
  path: string,
  iface: string,
  member: string,
  signature = '',
  body: unknown[] = [],
): Promise<unknown[]> {
  return callMethod(client, { destination, path, interface: iface, member, signature, body }, CALL_TIMEOUT_MS);
}

type Managed = Record<string, Record<string, Record<string, dbus.Variant>>>;

async function managedObjects(): Promise<Managed> {
  return (await call(STAC, STORAGE, 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects'))[0] as Managed;
}

/** What a `nobody` call must never change: volumes and snapshots (with their settings), schedules, files. */
async function storageState(): Promise<unknown> {
  const objects = await managedObjects();
  const keep: Record<string, string[]> = {
    'org.nvmexpress.stac.Volume1': [
      'Name',
      'Id',
      'Pool',
      'Size',
      'Parent',
      'SnapshotCount',
      'QosIops',
      'QosIopsBurst',
      'QosBps',
      'QosBpsBurst',
      'PerformancePriority',
    ],
    'org.nvmexpress.stac.Snapshot1': ['Name', 'VolumeName', 'Size', 'Protected'],
  };
  const state: Record<string, Record<string, unknown>> = {};
  for (const [path, ifaces] of Object.entries(objects)) {
    for (const [iface, props] of Object.entries(ifaces)) {
      if (!keep[iface]) continue;
      state[path] = Object.fromEntries(keep[iface]!.map((p) => [p, props[p]?.value]));
    }
  }
  const schedules = (
    (await call(STAC, '/org/nvmexpress/stac/schedules', 'org.nvmexpress.stac.Schedule1', 'ListSchedules'))[0] as Record<
      string,
      dbus.Variant
    >[]
  ).map((s) =>
    Object.fromEntries(
      Object.entries(s)
        .filter(([k]) => !/run|last/.test(k))
        .map(([k, v]) => [k, JSON.stringify(v.value, (_, x: unknown) => (typeof x === 'bigint' ? String(x) : x))]),
    ),
  );
  return {
    objects: state,
    schedules,
    files: readdirSync(join(etc.dir, 'volumes'), { recursive: true }).map(String).sort(),
  };
}

/** The objects to aim at: the daemons' roots, stacd's children and every storage object there is now. */
async function fuzzObjects(): Promise<{ objects: FuzzObject[]; names: string[] }> {
  const objects: FuzzObject[] = [
    { destination: STAF, path: '/org/nvmexpress/staf', interfaces: [STAF, `${STAF}.debug`] },
    { destination: STAC, path: '/org/nvmexpress/stac', interfaces: [STAC, `${STAC}.debug`] },
    { destination: STAC, path: '/org/nvmexpress/stac/connector', interfaces: ['org.nvmexpress.stac.Connector1'] },
    { destination: STAC, path: '/org/nvmexpress/stac/schedules', interfaces: ['org.nvmexpress.stac.Schedule1'] },
    {
      destination: STAC,
      path: STORAGE,
      interfaces: ['org.nvmexpress.stac.Storage1', 'org.freedesktop.DBus.ObjectManager'],
    },
  ];
  const names = new Set<string>(['fz0', 's0', 'fzsched']);
  for (const [path, ifaces] of Object.entries(await managedObjects())) {
    objects.push({
      destination: STAC,
      path,
      interfaces: Object.keys(ifaces).filter((i) => i.startsWith('org.nvmexpress.')),
    });
    for (const props of Object.values(ifaces)) if (typeof props.Name?.value === 'string') names.add(props.Name.value);
  }
  return { objects, names: [...names] };
}

/** Runs the fuzzing client (as `user` when given) and returns one result per call. */
async function runFuzzer(plan: FuzzPlan, user?: string): Promise<FuzzResult[]> {
  const child = join(dirname(fileURLToPath(import.meta.url)), 'dbus-fuzz-child.js');
  // bound on the whole run: every call may use its timeout, `concurrency` at a time, plus start-up
  const timeoutMs = Math.ceil(plan.count / plan.concurrency) * plan.timeoutMs + 30_000;
  const r = await runProcess(process.execPath, [child, JSON.stringify(plan)], {
    timeoutMs,
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address },
    ...(user ? { user } : {}),
  });
  if (r.code !== 0)
    throw new Error(`the fuzzing client exited with ${r.signal ?? r.code} (seed ${plan.seed}):\n${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as FuzzResult);
}

function summary(results: FuzzResult[]): string {
  const by = new Map<string, number>();
  for (const r of results)
    by.set(
      r.outcome === 'error' ? r.error! : r.outcome,
      (by.get(r.outcome === 'error' ? r.error! : r.outcome) ?? 0) + 1,
    );
  const slowest = results.reduce((a, b) => (b.ms > a.ms ? b : a), results[0]!);
  return `${results.length} calls: ${[...by]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')}; slowest ${slowest.ms} ms (${slowest.interface}.${slowest.member})`;
}

function assertAnswered(results: FuzzResult[], plan: FuzzPlan, who: string): void {
  const replay = `(replay: STAS_FUZZ_SEED=${SEED} STAS_FUZZ_COUNT=${COUNT}; case seed ${plan.seed})`;
  assert.equal(
    results.filter((r) => r.i >= 0).length,
    plan.count,
    `${who}: ${results.length} of ${plan.count} calls reported ${replay}`,
  );
  const bad = results.filter((r) => r.outcome === 'timeout' || r.outcome === 'client-error' || r.stack);
  assert.deepEqual(
    bad,
    [],
    `${who}: calls not answered in ${plan.timeoutMs} ms, refused by the client library, or answered with a stack trace ${replay}`,
  );
  // the daemons answer; the bus itself refuses nothing but policy (AccessDenied) and size limits
  const noDaemon = results.filter(
    (r) => r.error === 'org.freedesktop.DBus.Error.NoReply' || r.error === 'org.freedesktop.DBus.Error.ServiceUnknown',
  );
  assert.deepEqual(noDaemon, [], `${who}: a daemon did not answer ${replay}`);
}

function assertRunning(): void {
  for (const [name, d] of Object.entries(daemons)) {
    assert.ok(d, `${name} was started`);
    assert.equal(d.proc.exitCode, null, `${name} exited (${d.proc.exitCode}):\n${d.output().slice(-3000)}`);
    assert.equal(d.proc.signalCode, null, `${name} was killed by ${d.proc.signalCode}`);
  }
}

before(async () => {
  target = await FakeTarget.start();
  bus = await startPrivateBus();
  etc = makeTestEtc({
    stafd: `[Global]\n[Service Discovery]\nzeroconf=disabled\n[Controllers]\ncontroller=transport=tcp;traddr=127.0.0.1;trsvcid=${target.port}\n`,
  });
  const env = { ...etc.env, STAS_FABRICS_DRIVER: 'userspace' };
  daemons.stafd = await startDaemon('stafd', { busAddress: bus.address, confFile: etc.stafdConf, env });
  daemons.stacd = await startDaemon('stacd', { busAddress: bus.address, confFile: etc.stacdConf, env });
  client = dbus.sessionBus({ busAddress: bus.address });
  await waitConnected(client);
  // stacd owns its name before its storage objects are exported (journal replay): wait for Storage1 to answer
  await waitFor(
    () => `stacd's Storage1 answering; stacd output:\n${daemons.stacd!.output().slice(-3000)}`,
    () => call(STAC, STORAGE, 'org.nvmexpress.stac.Storage1', 'ListVolumes').then(() => true),
    30_000,
  );
  // something to aim at: a volume with a protected snapshot, a clone of it, a schedule; stacd connected to the DC's subsystem
  const [vol] = (await call(STAC, STORAGE, 'org.nvmexpress.stac.Storage1', 'CreateVolume', 'sta{sv}', [
    'fz0',
    1n << 30n,
    {},
  ])) as [string];
  const [snap] = (await call(STAC, vol, 'org.nvmexpress.stac.Volume1', 'CreateSnapshot', 's', ['s0'])) as [string];
  await call(STAC, snap, 'org.nvmexpress.stac.Snapshot1', 'Protect');
  await call(STAC, '/org/nvmexpress/stac/schedules', 'org.nvmexpress.stac.Schedule1', 'AddSchedule', 'sa{ss}', [
    'fzsched',
    { volumes: 'fz0', interval: '1d', 'keep-daily': '2' },
  ]);
  await daemons.stacd.waitForLog(/nqn\.2024-01\.io\.example:fake1.*(onnected|established)/i, 30_000);
});

after(async () => {
  client?.disconnect();
  for (const d of Object.values(daemons)) await d?.stop().catch(() => undefined);
  await bus?.stop();
  await target?.stop();
  etc?.cleanup();
});

test(`as nobody: ${COUNT} random calls are all answered, none changes storage, none harms a daemon`, async () => {
  const { objects, names } = await fuzzObjects();
  const plan: FuzzPlan = {
    seed: SEED,
    count: COUNT,
    concurrency: 4,
    timeoutMs: CALL_TIMEOUT_MS,
    objects,
    names,
    signals: true,
  };
  const before = await storageState();
  const stacdLogFrom = daemons.stacd!.output().length;
  const t0 = Date.now();
  const results = await runFuzzer(plan, 'nobody');
  console.log(`# nobody: ${summary(results)}, ${Date.now() - t0} ms`);
  assertAnswered(results, plan, 'nobody');
  assertRunning();
  assert.ok(
    results.some((r) => r.error === 'org.freedesktop.DBus.Error.AccessDenied'),
    'the policy refused something (the calls reached the bus as nobody)',
  );
  assert.ok(
    results.some((r) => r.outcome === 'reply'),
    'some calls were answered with a reply',
  );
  assert.deepEqual(
    await storageState(),
    before,
    `a call by nobody changed volumes, snapshots, schedules or files (seed ${SEED})`,
  );
  // nobody's forged "stafd left the bus" (sent first, to stacd's unique name) changed nothing (issue #17, defect 3)
  assert.doesNotMatch(
    daemons.stacd!.output().slice(stacdLogFrom),
    /stafd left the bus/,
    'stacd obeyed a forged signal',
  );
});

test(`as root: ${COUNT} random calls are all answered without a stack trace, both daemons keep running`, async () => {
  const { objects, names } = await fuzzObjects();
  const plan: FuzzPlan = {
    seed: (SEED ^ 0x5bd1e995) >>> 0 || 1,
    count: COUNT,
    concurrency: 4,
    timeoutMs: CALL_TIMEOUT_MS,
    objects,
    names,
    signals: false,
  };
  const t0 = Date.now();
  const results = await runFuzzer(plan);
  console.log(`# root: ${summary(results)}, ${Date.now() - t0} ms`);
  assertAnswered(results, plan, 'root');
  assertRunning();
  assert.ok(
    results.some((r) => r.outcome === 'reply'),
    'some calls were answered with a reply',
  );
});

test('after the fuzzing both daemons answer, and their resident memory is bounded', async () => {
  assertRunning();
  for (const [name, dest, path] of [
    ['stafd', STAF, '/org/nvmexpress/staf'],
    ['stacd', STAC, '/org/nvmexpress/stac'],
  ] as const) {
    await call(dest, path, 'org.freedesktop.DBus.Peer', 'Ping');
    const info = JSON.parse((await call(dest, path, `${dest}.debug`, 'process_info'))[0] as string) as Record<
      string,
      unknown
    >;
    assert.equal(info.hostnqn, etc.hostnqn);
    const rss = rssBytes(daemons[name]!.proc.pid!);
    assert.ok(rss !== undefined, `${name}: no /proc status`);
    console.log(
      `# ${name}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB after the fuzzing (bound ${RSS_LIMIT / 2 ** 20} MiB)`,
    );
    assert.ok(
      rss < RSS_LIMIT,
      `${name}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB exceeds ${RSS_LIMIT / 2 ** 20} MiB (seed ${SEED})`,
    );
    assert.doesNotMatch(daemons[name]!.output(), /uncaught|unhandled/i, `${name} logged an uncaught error`);
  }
});
