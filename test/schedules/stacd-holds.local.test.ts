// Through the real stacd (storage and schedules wired in) and the real stacctl: a schedule makes snapshots on
// qcow2, a held snapshot survives gc with its reason shown, release lets retention prune it; holds are root-only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { startDaemon, runCli, type RunningDaemon } from '../harness/daemons.js';
import { makeTestEtc, type TestEtc } from '../harness/env.js';
import { nextSecond } from '../harness/wait.js';

let bus: PrivateBus;
let etc: TestEtc;
let stacd: RunningDaemon;

async function ctl(args: string[], user?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli('stacctl', args, {
    busAddress: bus.address,
    env: etc.env,
    ...(user ? { user } : {}),
    timeoutMs: 120_000,
  });
}

before(async () => {
  bus = await startPrivateBus();
  etc = makeTestEtc();
  stacd = await startDaemon('stacd', { busAddress: bus.address, confFile: etc.stacdConf, env: etc.env });
});

after(async () => {
  await stacd?.stop().catch(() => undefined);
  await bus?.stop();
  etc?.cleanup();
});

test('hold keeps a snapshot through gc (reason shown), release lets retention prune it', async () => {
  let r = await ctl(['volume', 'create', 'held-vol', '--size', '64M']);
  assert.equal(r.code, 0, r.stderr);
  r = await ctl(['schedule', 'add', 'keep1', 'volumes=held-vol', 'interval=1h', 'keep-hourly=1']);
  assert.equal(r.code, 0, r.stderr);
  const names: string[] = [];
  const runOnce = async (): Promise<void> => {
    const run = await ctl(['schedule', 'run-now', 'keep1', '--json']);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const snaps = JSON.parse((await ctl(['snapshot', 'ls', 'held-vol', '--json'])).stdout) as { Name: string }[];
    names.push(snaps.map((x) => x.Name).find((n) => !names.includes(n))!);
  };
  await runOnce();
  const older = names[0]!;
  // held before the next run: the run's retention (keep-hourly=1) would otherwise prune it at once
  r = await ctl(['snapshot', 'hold', 'held-vol', older, '--reason', 'ticket 4711']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `held held-vol@${older}: ticket 4711\n`);
  // schedule names carry a UTC timestamp to the second: let the next one differ
  await nextSecond();
  await runOnce();
  assert.equal(names.length, 2);

  const denied = await ctl(['snapshot', 'release', 'held-vol', older], 'nobody');
  assert.equal(denied.code, 4, denied.stderr);

  r = await ctl(['snapshot', 'gc', '--dry-run', '--explain', '--schedule', 'keep1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`keep\\s+${older}\\s.*hold: ticket 4711`));
  r = await ctl(['snapshot', 'gc', '--schedule', 'keep1']);
  assert.equal(r.code, 0, r.stderr);
  let left = (JSON.parse((await ctl(['snapshot', 'ls', 'held-vol', '--json'])).stdout) as { Name: string }[]).map(
    (s) => s.Name,
  );
  assert.deepEqual(left.sort(), [...names].sort(), 'the held snapshot and the newest one are both kept');

  r = await ctl(['snapshot', 'release', 'held-vol', older]);
  assert.equal(r.code, 0, r.stderr);
  r = await ctl(['snapshot', 'gc', '--schedule', 'keep1']);
  assert.equal(r.code, 0, r.stderr);
  left = (JSON.parse((await ctl(['snapshot', 'ls', 'held-vol', '--json'])).stdout) as { Name: string }[]).map(
    (s) => s.Name,
  );
  assert.deepEqual(left, [names[1]]);
});

test('hold: unknown snapshot and empty reason are named errors', async () => {
  let r = await ctl(['snapshot', 'hold', 'held-vol', 'no-such-snap', '--reason', 'x']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no such snapshot/);
  r = await ctl(['snapshot', 'hold', 'held-vol', 'no-such-snap', '--reason', ' ', '--json']);
  assert.equal(r.code, 1);
  assert.match(JSON.parse(r.stdout).error.message, /a hold needs a reason/);
});
