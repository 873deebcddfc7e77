// Timer strings (process_info "avahi wake up timer") and the reachability retry sequence, with an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OneShotTimer, pyFloat, type Clock } from '../../daemons/mdns/timers.js';
import { ReachabilityChecker, REACHABILITY_RETRY_MS } from '../../daemons/mdns/reachability.js';

/** A manual clock: time only moves when the test says so. */
class ManualClock implements Clock {
  t = 1_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== h);
  }
  pending(): number[] {
    return this.timers.map((t) => t.at - this.t);
  }
  async advance(ms: number): Promise<void> {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      due.fn();
      await new Promise((r) => setImmediate(r));
    }
  }
}

test('pyFloat mimics Python float repr', () => {
  assert.equal(pyFloat(60), '60.0');
  assert.equal(pyFloat(1.5), '1.5');
  assert.equal(pyFloat(44.0229131), '44.022913');
});

test('OneShotTimer strings: off, armed, due, None after stop', async () => {
  const clock = new ManualClock();
  let fired = 0;
  const t = new OneShotTimer(60_000, () => fired++, clock);
  assert.equal(t.toString(), '60.0s [off]');
  t.start();
  assert.equal(t.toString(), '60.0s [60.0s]');
  clock.t += 15_977.087;
  assert.equal(t.toString(), '60.0s [44.022913s]');
  await clock.advance(44_022.913);
  assert.equal(fired, 1);
  assert.equal(t.toString(), '60.0s [off]');
  t.start();
  t.stop();
  assert.equal(t.toString(), 'None');
  assert.deepEqual(clock.pending(), []);
});

test('reachability retries after 5, 10, 30, 60, 300, 600, 600 s and stops once reachable', async () => {
  assert.deepEqual(REACHABILITY_RETRY_MS, [5_000, 10_000, 30_000, 60_000, 300_000, 600_000]);
  const clock = new ManualClock();
  let attempts = 0;
  let reachable = 0;
  const delays: number[] = [];
  const checker = new ReachabilityChecker(
    { address: '::ffff:10.1.1.1', port: 8009, ifname: 'eth0' },
    () => reachable++,
    {
      clock,
      probe: async () => {
        attempts++;
        if (attempts < 8) throw new Error('ECONNREFUSED');
      },
    },
  );
  checker.start();
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 7; i++) {
    const [d] = clock.pending();
    delays.push(d!);
    await clock.advance(d!);
  }
  assert.deepEqual(delays, [5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 600_000]);
  assert.equal(attempts, 8);
  assert.equal(reachable, 1);
  assert.equal(checker.reachable, true);
  assert.deepEqual(clock.pending(), [], 'no re-check once reachable');
});

test('a stopped checker never probes again', async () => {
  const clock = new ManualClock();
  let attempts = 0;
  const checker = new ReachabilityChecker({ address: '10.1.1.1', port: 1, ifname: '' }, () => undefined, {
    clock,
    probe: async () => {
      attempts++;
      throw new Error('no');
    },
  });
  checker.start();
  await new Promise((r) => setImmediate(r));
  checker.stop();
  await clock.advance(10 * 60_000);
  assert.equal(attempts, 1);
  assert.deepEqual(clock.pending(), []);
});
