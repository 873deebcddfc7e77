// Issue #17, defect 4: read-only calls must not starve stacd. `nobody` floods Volume1.Usage (one qemu-img per
// snapshot on qcow2) on a volume with 30 snapshots from 20 connections at once, while root creates a volume.
// Root's call succeeds within stacctl's timeout; stacd never runs more tool processes at once than its pool
// ([Volumes] max-jobs 4 + 4); the flood's calls are answered (a result, or LimitExceeded), never left hanging.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dbus from 'dbus-next';
import { startPrivateBus } from '../harness/bus.js';
import { callsTo } from '../harness/dbus-calls.js';
import { startDaemon } from '../harness/daemons.js';
import { makeTestEtc } from '../harness/env.js';
import { connectSystemBus, waitConnected, type MessageBus } from '../../daemons/dbus/bus.js';
import { MiB } from '../../daemons/volumes/size.js';

const DEST = 'org.nvmexpress.stac';
const STORAGE_PATH = '/org/nvmexpress/stac/storage';
const POOL_SIZE = 8; // DEFAULT_MAX_JOBS (4) + the 4 slots beside jobs
const CLI_TIMEOUT_MS = 15_000; // stacctl's call timeout (ctl/common/client.ts)
const self = fileURLToPath(import.meta.url);
const child = join(self, '..', 'usage-flood-child.js');
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error('cleanup:', e));
});

/** tool processes (setpriv wrapper or qemu-img) whose parent is `pid` */
function toolChildren(pid: number): number {
  let n = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z' && (comm === 'qemu-img' || comm === 'setpriv')) n++;
    } catch {
      /* gone meanwhile */
    }
  }
  return n;
}

test('a Usage flood by nobody neither forks without bound nor delays root', async (t) => {
  const bus = await startPrivateBus();
  cleanups.push(() => bus.stop());
  const etc = makeTestEtc();
  cleanups.push(async () => etc.cleanup());
  const stacd = await startDaemon('stacd', { busAddress: bus.address, confFile: etc.stacdConf, env: etc.env });
  cleanups.push(() => stacd.stop());
  process.env.DBUS_SYSTEM_BUS_ADDRESS = bus.address;
  const root: MessageBus = connectSystemBus();
  cleanups.push(async () => root.disconnect());
  await waitConnected(root);
  const { call } = callsTo(() => root, DEST);

  // the storage half may still be starting when the name is owned
  let vpath = '';
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      [vpath] = (await call(STORAGE_PATH, 'org.nvmexpress.stac.Storage1', 'CreateVolume', 'sta{sv}', [
        'flood',
        BigInt(64 * MiB),
        {},
      ])) as [string];
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  for (let i = 0; i < 30; i++) await call(vpath, 'org.nvmexpress.stac.Volume1', 'CreateSnapshot', 's', [`s${i}`]);

  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, toolChildren(stacd.proc.pid!))), 5);
  cleanups.push(async () => clearInterval(sampler));

  const flood = spawn('runuser', ['-u', 'nobody', '--', process.execPath, child, vpath, '20', '10'], {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  flood.stdout.on('data', (d: Buffer) => (out += d.toString()));
  flood.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const floodDone = new Promise<number | null>((r) => flood.on('exit', (code) => r(code)));
  cleanups.push(async () => flood.kill('SIGKILL'));

  // root's create once the flood is under way (stacd is running tools for it)
  const busyBy = Date.now() + 60_000;
  while (peak === 0 && flood.exitCode === null) {
    if (Date.now() > busyBy) assert.fail(`the flood did not start any tool within 60 s: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const t0 = Date.now();
  await call(
    STORAGE_PATH,
    'org.nvmexpress.stac.Storage1',
    'CreateVolume',
    'sta{sv}',
    ['rootvol', BigInt(64 * MiB), { qos_iops: new dbus.Variant('t', 100n) }],
    CLI_TIMEOUT_MS,
  );
  const createMs = Date.now() - t0;

  const code = await Promise.race([floodDone, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 240_000))]);
  clearInterval(sampler);
  assert.equal(code, 0, `flood child: ${out}`);
  const { outcome, ms } = JSON.parse(out.trim().split('\n').pop()!) as { outcome: Record<string, number>; ms: number };
  t.diagnostic(
    `root CreateVolume during the flood: ${createMs} ms; tool processes at once: ${peak} (pool ${POOL_SIZE}); flood answers in ${ms} ms: ${JSON.stringify(outcome)}`,
  );
  assert.ok(peak <= POOL_SIZE, `stacd ran ${peak} tool processes at once (pool of ${POOL_SIZE})`);
  const answered = (outcome.ok ?? 0) + (outcome['org.nvmexpress.stac.Error.LimitExceeded'] ?? 0);
  assert.equal(answered, 200, `every flood call gets a result or LimitExceeded: ${JSON.stringify(outcome)}`);
  assert.ok((outcome.ok ?? 0) > 0, 'some flood calls were served');
  // the answers are real: 30 snapshots, each with its own entry
  const [, , snaps] = (await call(vpath, 'org.nvmexpress.stac.Volume1', 'Usage')) as [bigint, bigint, unknown[]];
  assert.equal(snaps.length, 30);
});
