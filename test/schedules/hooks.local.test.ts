// Hooks are real child processes here (/bin/sh), run through the scheduler with an in-memory store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rig, def, tempStateDir } from './helpers.js';
import { runHook } from '../../daemons/schedules/hooks.js';

const start = Date.parse('2024-02-01T00:00:00Z');

test('pre-hook failing with on-failure=abort prevents the snapshot, and schedule show says why', async (t) => {
  const r = rig(t, start, [
    def('nightly', {
      volumes: 'vol1',
      calendar: 'daily',
      'pre-hook': `/bin/sh -c 'echo freezing db; echo "cannot freeze: db busy" >&2; exit 3'`,
      'on-failure': 'abort',
    }),
  ]);
  r.store.addVolume('vol1');
  const run = await r.scheduler.runNow('nightly');
  assert.equal(r.store.created, 0, 'no snapshot taken');
  assert.equal(run.outcome, 'failed');
  const v = run.volumes[0]!;
  assert.equal(v.outcome, 'aborted');
  assert.equal(
    v.reason,
    'pre-hook /bin/sh exited with code 3: cannot freeze: db busy (on-failure=abort: no snapshot taken)',
  );
  assert.equal(v.hooks[0]!.exitCode, 3);
  assert.match(v.hooks[0]!.output, /freezing db\ncannot freeze: db busy\n/);
  const shown = r.scheduler.get('nightly').lastRun!;
  assert.match(shown.summary, /1 aborted \(vol1: pre-hook \/bin\/sh exited with code 3: cannot freeze: db busy/);
  // and it was persisted: a restarted stacd still shows the reason
  const again = r.restart([def('nightly', { volumes: 'vol1', calendar: 'daily' })]);
  assert.equal(again.get('nightly').lastRun!.volumes[0]!.outcome, 'aborted');
});

test('pre-hook failing with on-failure=warn takes the snapshot and records the warning', async (t) => {
  const r = rig(t, start, [
    def('nightly', { volumes: 'vol1', calendar: 'daily', 'pre-hook': `/bin/sh -c 'exit 3'`, 'on-failure': 'warn' }),
  ]);
  r.store.addVolume('vol1');
  const run = await r.scheduler.runNow('nightly');
  assert.equal(r.store.created, 1);
  assert.equal(run.outcome, 'ok');
  assert.deepEqual(run.volumes[0]!.warnings, [
    'pre-hook /bin/sh exited with code 3 (on-failure=warn: snapshot taken anyway)',
  ]);
  assert.match(run.summary, /warnings: vol1: pre-hook \/bin\/sh exited with code 3/);
});

test('hooks get STAS_VOLUME, STAS_SNAPSHOT, STAS_SCHEDULE and STAS_PHASE; post runs after the snapshot', async (t) => {
  const out = join(tempStateDir(t), 'env.log');
  const cmd = `/bin/sh -c 'echo "$STAS_PHASE $STAS_SCHEDULE $STAS_VOLUME $STAS_SNAPSHOT" >> ${out}'`;
  const r = rig(t, start, [def('nightly', { volumes: 'a b', calendar: 'daily', 'pre-hook': cmd, 'post-hook': cmd })]);
  r.store.addVolume('a');
  r.store.addVolume('b');
  const run = await r.scheduler.runNow('nightly');
  assert.equal(run.outcome, 'ok');
  assert.equal(
    readFileSync(out, 'utf8'),
    [
      'pre nightly a auto-nightly-20240201T000000Z',
      'post nightly a auto-nightly-20240201T000000Z',
      'pre nightly b auto-nightly-20240201T000000Z',
      'post nightly b auto-nightly-20240201T000000Z',
      '',
    ].join('\n'),
  );
  // a failing post hook is a warning: the snapshot exists already
  const r2 = rig(t, start, [def('n2', { volumes: 'a', calendar: 'daily', 'post-hook': `/bin/sh -c 'exit 1'` })]);
  r2.store.addVolume('a');
  const run2 = await r2.scheduler.runNow('n2');
  assert.equal(run2.outcome, 'ok');
  assert.deepEqual(run2.volumes[0]!.warnings, ['post-hook /bin/sh exited with code 1']);
});

test('a hook that overruns its timeout is killed (with its children) and counts as failed', async (t) => {
  const r = rig(t, start, [
    def('slow', {
      volumes: 'v',
      calendar: 'daily',
      'pre-hook': `/bin/sh -c 'sleep 30 & sleep 30; echo never'`,
      'hook-timeout': '300ms',
    }),
  ]);
  r.store.addVolume('v');
  const t0 = Date.now();
  const run = await r.scheduler.runNow('slow');
  assert.ok(Date.now() - t0 < 5_000, 'did not wait for the hook');
  const v = run.volumes[0]!;
  assert.equal(v.outcome, 'aborted');
  assert.equal(v.hooks[0]!.timedOut, true);
  assert.match(v.reason!, /^pre-hook \/bin\/sh timed out after \d+ ms and was killed/);
  assert.equal(r.store.created, 0);
});

test('hook output is captured up to a bound; a missing executable is a clear failure', async () => {
  const big = await runHook({
    phase: 'pre',
    argv: ['/bin/sh', '-c', 'head -c 100000 /dev/zero | tr "\\0" x; echo; echo tail-line'],
    timeoutMs: 10_000,
    env: { STAS_VOLUME: 'v', STAS_SNAPSHOT: 's', STAS_SCHEDULE: 'x' },
    maxOutputBytes: 1000,
  });
  assert.equal(big.ok, true);
  assert.equal(big.output.length, 1000);
  assert.equal(big.outputTruncated, true);
  const missing = await runHook({
    phase: 'pre',
    argv: ['/nonexistent/hook'],
    timeoutMs: 1000,
    env: { STAS_VOLUME: 'v', STAS_SNAPSHOT: 's', STAS_SCHEDULE: 'x' },
  });
  assert.equal(missing.ok, false);
  assert.match(missing.spawnError!, /ENOENT/);
});
