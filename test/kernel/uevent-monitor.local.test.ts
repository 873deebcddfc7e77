// The udevadm-based monitor on the host: real udevadm, subscribed before start() resolves, restarted when it dies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UeventMonitor } from '../../daemons/udev/monitor.js';

test(
  'monitor starts udevadm, restarts it with backoff after it is killed, and stops cleanly',
  { timeout: 30_000 },
  async () => {
    const m = new UeventMonitor({ minBackoffMs: 100, maxBackoffMs: 400 });
    const rescans: string[] = [];
    m.on('rescan', (r) => rescans.push(r));
    await m.start();
    try {
      const pid1 = m.pid;
      assert.ok(pid1 !== undefined && m.running);
      const delays: number[] = [];
      for (let i = 0; i < 3; i++) {
        const pid = m.pid as number;
        const restarted = new Promise<number>((resolve) => m.once('restart', (info) => resolve(info.delayMs)));
        process.kill(pid, 'SIGKILL');
        delays.push(await restarted);
        const t0 = Date.now();
        while ((m.pid === undefined || m.pid === pid) && Date.now() - t0 < 5_000)
          await new Promise((r) => setTimeout(r, 20));
        assert.notEqual(m.pid, pid);
      }
      assert.deepEqual(delays, [100, 200, 400]);
      const t0 = Date.now();
      while (rescans.length < 3 && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(rescans, ['restart', 'restart', 'restart']);
      assert.equal(m.starts, 4);
    } finally {
      m.stop();
    }
    assert.equal(m.running, false);
  },
);

test('start() fails loudly when udevadm cannot run', { timeout: 10_000 }, async () => {
  const m = new UeventMonitor({ udevadm: '/nonexistent/udevadm' });
  await assert.rejects(m.start(), /cannot start uevent monitor/);
  assert.equal(m.running, false);
});
