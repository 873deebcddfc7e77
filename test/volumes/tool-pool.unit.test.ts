// The tool pool of issue #17 defect 4: a bound on processes, unprivileged work within its share and behind
// privileged work, cancellation of a waiting turn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ToolPool } from '../../daemons/volumes/tool.js';
import { CancelledError } from '../../daemons/volumes/errors.js';

const settled = (): Promise<void> => new Promise((r) => setImmediate(r));

test('never more than `size` at once; unprivileged work within its share', async () => {
  const pool = new ToolPool(3, 1);
  const order: string[] = [];
  const releases = new Map<string, () => void>();
  const ask = (name: string, unprivileged: boolean): Promise<void> =>
    pool.acquire(unprivileged).then((release) => {
      order.push(name);
      releases.set(name, release);
    });
  void ask('u1', true);
  void ask('u2', true); // over the unprivileged share: waits although slots are free
  void ask('r1', false);
  void ask('r2', false);
  void ask('r3', false); // pool full
  await settled();
  assert.deepEqual(order, ['u1', 'r1', 'r2']);
  assert.equal(pool.inUse, 3);
  releases.get('u1')!(); // a privileged waiter goes first
  await settled();
  assert.deepEqual(order, ['u1', 'r1', 'r2', 'r3']);
  releases.get('r1')!();
  await settled();
  assert.deepEqual(order, ['u1', 'r1', 'r2', 'r3', 'u2']);
  assert.equal(pool.peak, 3);
  for (const [name, release] of releases) if (name !== 'u1' && name !== 'r1') release();
  assert.equal(pool.inUse, 0);
});

test('a privileged call is not overtaken by unprivileged ones; a waiting turn can be cancelled', async () => {
  const pool = new ToolPool(1, 1);
  const first = await pool.acquire(false);
  const order: string[] = [];
  const ac = new AbortController();
  const cancelled = pool.acquire(false, ac.signal);
  void pool.acquire(true).then((r) => (order.push('u'), r()));
  void pool.acquire(false).then((r) => (order.push('r'), r()));
  ac.abort();
  await assert.rejects(cancelled, CancelledError);
  first();
  await settled();
  assert.deepEqual(order, ['r', 'u']);
  assert.equal(pool.inUse, 0);
});
