// JobRunner: per-key serialisation in submission order, parallelism up to the limit, cancel (queued and
// running), quick operations refused with Busy while a job holds or waits for their key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobRunner, type JobContext } from '../../daemons/jobs/runner.js';
import { CancelledError } from '../../daemons/volumes/errors.js';

function gate(): { open: () => void; wait: Promise<void> } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { open, wait };
}

test('jobs on one key run one after the other, other keys in parallel up to the limit', async () => {
  const runner = new JobRunner({ maxParallel: 2 });
  const log: string[] = [];
  const gates = [gate(), gate(), gate(), gate()];
  const mk = (name: string, key: string, g: { wait: Promise<void> }) =>
    runner.submit({
      operation: 'op',
      object: name,
      keys: [key],
      cancellable: false,
      run: async () => {
        log.push(`start ${name}`);
        await g.wait;
        log.push(`end ${name}`);
        return name;
      },
    });
  const a1 = mk('a1', 'a', gates[0]);
  const a2 = mk('a2', 'a', gates[1]);
  const b1 = mk('b1', 'b', gates[2]);
  const c1 = mk('c1', 'c', gates[3]);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([a1.state, a2.state, b1.state, c1.state], ['running', 'queued', 'running', 'queued']);
  assert.ok(runner.isBusy('a') && runner.isBusy('c'));
  assert.throws(
    () => runner.tryLock(['a'], 'snapshot'),
    (e: Error & { code?: string }) => e.code === 'Busy' && /job .* \(op, running\)/.test(e.message),
  );
  assert.throws(
    () => runner.tryLock(['c'], 'snapshot'),
    (e: Error & { code?: string }) => e.code === 'Busy',
    'a queued job holds its key too',
  );
  const release = runner.tryLock(['d'], 'quick');
  release();
  gates[0].open();
  await a1.wait();
  await new Promise((r) => setImmediate(r));
  assert.equal(a2.state, 'running', 'a2 starts when a1 ends');
  gates[1].open();
  gates[2].open();
  gates[3].open();
  await runner.drain();
  assert.deepEqual(
    [a1, a2, b1, c1].map((j) => [j.state, j.result, j.progress]),
    [
      ['succeeded', 'a1', 100],
      ['succeeded', 'a2', 100],
      ['succeeded', 'b1', 100],
      ['succeeded', 'c1', 100],
    ],
  );
  assert.ok(log.indexOf('end a1') < log.indexOf('start a2'));
});

test('cancel: queued at once; running through its signal; refused when not cancellable', async () => {
  const runner = new JobRunner({ maxParallel: 1 });
  const progress: number[] = [];
  const running = runner.submit({
    operation: 'flatten',
    object: 'v',
    keys: ['v'],
    cancellable: true,
    run: (ctx: JobContext) =>
      new Promise<string>((_, reject) => {
        ctx.progress(10);
        ctx.progress(42.7);
        ctx.signal.addEventListener('abort', () => reject(new CancelledError('killed')));
      }),
  });
  running.on('changed', () => progress.push(running.progress));
  const queued = runner.submit({
    operation: 'x',
    object: 'w',
    keys: ['w'],
    cancellable: true,
    run: async () => 'never',
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(running.progress, 42);
  runner.cancel(queued.id);
  assert.equal(queued.state, 'cancelled');
  runner.cancel(running.id);
  const j = await running.wait();
  assert.equal(j.state, 'cancelled');
  assert.equal(j.errorCode, 'Cancelled');
  const nc = runner.submit({
    operation: 'rollback',
    object: 'z',
    keys: ['z'],
    cancellable: false,
    run: () => new Promise((r) => setTimeout(() => r('ok'), 50)),
  });
  await new Promise((r) => setImmediate(r));
  assert.throws(
    () => runner.cancel(nc.id),
    (e: Error & { code?: string }) => e.code === 'Busy',
  );
  assert.equal((await nc.wait()).state, 'succeeded');
  assert.throws(
    () => runner.cancel('nope'),
    (e: Error & { code?: string }) => e.code === 'NotFound',
  );
});

test('a failing job carries the named error code', async () => {
  const runner = new JobRunner();
  const j = runner.submit({
    operation: 'x',
    object: 'o',
    keys: ['o'],
    cancellable: false,
    run: async () => {
      const e = new Error('boom') as Error & { code: string };
      throw Object.assign(e, { code: 'X' });
    },
  });
  const done = await j.wait();
  assert.equal(done.state, 'failed');
  assert.equal(done.errorCode, 'Failed');
  assert.equal(done.error, 'boom');
});
