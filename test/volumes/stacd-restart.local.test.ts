// Issue #17, defect 8 and the storage errors of defect 7, against the real stacd on a private bus:
//  - stacd SIGKILLed in the middle of a flatten (outside systemd) leaves no qemu-img of its own running, and the
//    restarted stacd finishes the flatten from its journal;
//  - while it does, storage calls answer org.nvmexpress.stac.Error.Starting (not UnknownMethod);
//  - PlanRetention/CollectGarbage name an unknown volume with Error.NotFound;
//  - a tool that escaped anyway (marked with the state directory in its environment) is killed at the next start;
//  - 512 TiB + 512 bytes is refused with the sizes in bytes, not "512 TiB exceeds the maximum of 512 TiB".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import dbus from 'dbus-next';
import { startPrivateBus } from '../harness/bus.js';
import { callsTo } from '../harness/dbus-calls.js';
import { startDaemon, type RunningDaemon } from '../harness/daemons.js';
import { makeTestEtc } from '../harness/env.js';
import { connectSystemBus, waitConnected, type MessageBus } from '../../daemons/dbus/bus.js';
import { GiB, TiB } from '../../daemons/volumes/size.js';
import { qemuWrite, qemuReads } from './helpers.js';

const DEST = 'org.nvmexpress.stac';
const STORAGE = { path: '/org/nvmexpress/stac/storage', iface: 'org.nvmexpress.stac.Storage1' };
const VOLUME = 'org.nvmexpress.stac.Volume1';
const JOB = 'org.nvmexpress.stac.Job1';
const SCHEDULES = { path: '/org/nvmexpress/stac/schedules', iface: 'org.nvmexpress.stac.Schedule1' };
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error('cleanup:', e));
});

const bus = await startPrivateBus();
cleanups.push(() => bus.stop());
const etc = makeTestEtc();
cleanups.push(async () => etc.cleanup());
process.env.DBUS_SYSTEM_BUS_ADDRESS = bus.address;
const client: MessageBus = connectSystemBus();
cleanups.push(async () => client.disconnect());
await waitConnected(client);
let stacd: RunningDaemon = await startDaemon('stacd', {
  busAddress: bus.address,
  confFile: etc.stacdConf,
  env: etc.env,
});
cleanups.push(() => stacd.stop());

const { call, prop } = callsTo(() => client, DEST);
async function failure(p: Promise<unknown>): Promise<{ name: string; text: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { type?: string; text?: string; message?: string };
    return { name: err.type ?? 'no name', text: err.text ?? err.message ?? '' };
  }
  return { name: 'no error', text: '' };
}
/** errors a call may get while the storage half of stacd starts (the last two: before issue #17 was fixed) */
const STARTING = [
  'org.nvmexpress.stac.Error.Starting',
  'org.freedesktop.DBus.Error.UnknownMethod',
  'org.freedesktop.DBus.Error.UnknownObject',
];
/** a storage call, retried while the storage half is still starting (bounded); returns the refusals seen */
async function whenReady<T>(fn: () => Promise<T>): Promise<{ value: T; refusals: string[] }> {
  const refusals: string[] = [];
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      return { value: await fn(), refusals };
    } catch (e) {
      const name = (e as { type?: string }).type ?? String(e);
      if (!STARTING.includes(name) || Date.now() > deadline) throw e;
      refusals.push(name);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
async function waitJob(path: string): Promise<string> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const state = String(await prop(path, JOB, 'State'));
    if (state !== 'queued' && state !== 'running') return state;
    if (Date.now() > deadline) assert.fail(`job ${path} still ${state} after 300 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
/** live (not zombie) processes named `comm` whose parent is `ppid` */
function childrenNamed(ppid: number, comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (name === comm && Number(parent) === ppid && state !== 'Z') out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

test('Schedule1.PlanRetention and CollectGarbage: an unknown volume is Error.NotFound', async () => {
  for (const member of ['PlanRetention', 'CollectGarbage']) {
    const f = await failure(
      whenReady(() => call(SCHEDULES.path, SCHEDULES.iface, member, 'ss', ['', 'no-such-volume'])).then((r) => r.value),
    );
    assert.equal(f.name, 'org.nvmexpress.stac.Error.NotFound', `${member}: ${f.text}`);
    assert.match(f.text, /volume "no-such-volume" not found/);
  }
});

test('CreateVolume of 512 TiB + 512 bytes: the refusal shows the difference', async () => {
  const f = await failure(
    call(STORAGE.path, STORAGE.iface, 'CreateVolume', 'sta{sv}', ['huge', BigInt(512 * TiB + 512), {}]),
  );
  assert.equal(f.name, 'org.nvmexpress.stac.Error.InvalidArgument');
  assert.doesNotMatch(f.text, /512 TiB exceeds the maximum of 512 TiB/);
  assert.match(f.text, /562949953421824 bytes exceeds the maximum of 512 TiB \(562949953421312 bytes\) by 512 B/);
});

test('SIGKILL in the middle of a flatten: no qemu-img outlives stacd; the restart answers Error.Starting while it recovers', async (t) => {
  const [ppath] = (await call(STORAGE.path, STORAGE.iface, 'CreateVolume', 'sta{sv}', ['p', BigInt(2 * GiB), {}])) as [
    string,
  ];
  const volumes = join(etc.dir, 'volumes', 'volumes');
  const pfile = join(volumes, `${String(await prop(ppath, VOLUME, 'Id'))}.qcow2`);
  // enough data that the flatten's rebase runs for a while
  await qemuWrite(pfile, '0xab', '0', '1024M');
  await call(ppath, VOLUME, 'CreateSnapshot', 's', ['s']);
  const [spath] = (await call(ppath, VOLUME, 'FindSnapshot', 's', ['s'])) as [string];
  await call(spath, 'org.nvmexpress.stac.Snapshot1', 'Protect');
  const [clone] = (await call(ppath, VOLUME, 'Clone', 'ssa{sv}', ['s', 'c', {}])) as [string];
  assert.equal(await waitJob(clone), 'succeeded');
  const [cpath] = (await call(STORAGE.path, STORAGE.iface, 'FindVolumeByName', 's', ['c'])) as [string];
  const cfile = join(volumes, `${String(await prop(cpath, VOLUME, 'Id'))}.qcow2`);
  await qemuWrite(cfile, '0xef', '0', '4M');

  const [job] = (await call(cpath, VOLUME, 'Flatten')) as [string];
  const pid = stacd.proc.pid!;
  let tools: number[] = [];
  const deadline = Date.now() + 120_000;
  while (Number(await prop(job, JOB, 'Progress')) < 3 || (tools = childrenNamed(pid, 'qemu-img')).length === 0) {
    if (Date.now() > deadline)
      assert.fail(`flatten did not get under way within 120 s (state ${String(await prop(job, JOB, 'State'))})`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const exited = new Promise<void>((r) => stacd.proc.once('exit', () => r()));
  stacd.signal('SIGKILL');
  await exited;
  const goneBy = Date.now() + 5_000;
  while (tools.some(alive) && Date.now() < goneBy) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(tools.filter(alive), [], `qemu-img ${tools.join(', ')} of the killed stacd still running`);

  stacd = await startDaemon('stacd', { busAddress: bus.address, confFile: etc.stacdConf, env: etc.env });
  const { value, refusals } = await whenReady(() =>
    call(cpath, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [VOLUME, 'Parent']),
  );
  t.diagnostic(`calls refused while stacd recovered: ${refusals.length} (${[...new Set(refusals)].join(', ')})`);
  assert.ok(refusals.length > 0, 'the recovery of a 1 GiB flatten outlasts the first call');
  assert.deepEqual([...new Set(refusals)], ['org.nvmexpress.stac.Error.Starting']);
  assert.equal((value[0] as dbus.Variant).value, '', 'flatten finished by the recovery');
  await stacd.waitForLog('recovered after a crash');
  assert.ok(await qemuReads(cfile, '0xef', '0', '4M'));
  assert.ok(await qemuReads(cfile, '0xab', '4M', '1020M'));
});

test('a tool that outlived a killed stacd is killed by the next one before it replays its journal', async () => {
  const exited = new Promise<void>((r) => stacd.proc.once('exit', () => r()));
  stacd.signal('SIGKILL');
  await exited;
  // what an escaped qemu-img looks like: not our child, carrying the mark of this state directory
  const leftover = spawn('sleep', ['600'], {
    env: { ...process.env, STAS_TOOL_OF: resolve(etc.env.STATE_DIRECTORY!) },
    detached: true,
    stdio: 'ignore',
  });
  cleanups.push(async () => leftover.kill('SIGKILL'));
  const other = spawn('sleep', ['600'], {
    env: { ...process.env, STAS_TOOL_OF: '/var/lib/stas/another-stacd' },
    detached: true,
    stdio: 'ignore',
  });
  cleanups.push(async () => other.kill('SIGKILL'));
  assert.ok(alive(leftover.pid!) && alive(other.pid!));
  stacd = await startDaemon('stacd', { busAddress: bus.address, confFile: etc.stacdConf, env: etc.env });
  await stacd.waitForLog(`killed leftover tool of a previous daemon: pid ${leftover.pid}: sleep 600`, 60_000);
  assert.equal(alive(leftover.pid!), false);
  assert.equal(alive(other.pid!), true, 'a tool of another state directory is left alone');
  await whenReady(() => call(STORAGE.path, STORAGE.iface, 'ListVolumes'));
});
