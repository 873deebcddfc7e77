// The terminator (nvme-stas §4.11): a DC removed while its connect is still in flight is parked until the connect
// settles, then closed per keep_connection (removal → disconnect). The real stafd (userspace driver) against the fake
// target answering the fabrics Connect 4 s late; the DC is removed from the configuration by SIGHUP meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeTarget } from '../harness/fake-target/index.js';
import { startFinderRig } from './rig.js';

const CONNECT_DELAY_MS = 4_000;
const BASE = '[Global]\n[Service Discovery]\nzeroconf=disabled\n';

test(
  'a DC removed by SIGHUP while connecting is parked, then disconnected once the connect completed',
  { timeout: 60_000 },
  async () => {
    const target = await FakeTarget.start({ connectDelayMs: CONNECT_DELAY_MS });
    const rig = await startFinderRig({
      conf: `${BASE}[Controllers]\ncontroller=transport=tcp;traddr=127.0.0.1;trsvcid=${target.port}\n`,
    });
    try {
      await rig.waitFor(
        'the Connect command at the target',
        async () => (target.stats.connects.length > 0 ? true : undefined),
        15_000,
      );
      const connectSeenAt = Date.now();
      rig.etc.write('stafd.conf', BASE);
      rig.stafd.signal('SIGHUP');
      const removed = await rig.waitSignal((s) => s.member === 'dc_removed', 10_000, connectSeenAt);
      assert.ok(
        removed.at - connectSeenAt < CONNECT_DELAY_MS,
        `dc_removed came ${removed.at - connectSeenAt} ms after the Connect: the pass must not wait for the parked connect`,
      );
      await rig.stafd.waitForLog(
        /connect in progress: controller parked until the connect completes \(then disconnected\)/,
        5_000,
      );
      assert.equal(target.stats.associationsClosed, 0, 'not closed before the connect completed');
      assert.deepEqual(await rig.listControllers(false), []);

      await rig.stafd.waitForLog(/parked controller released: connect completed/, CONNECT_DELAY_MS + 10_000);
      await rig.waitFor(
        'the association closed by stafd',
        async () => (target.stats.associationsClosed === 1 && target.connectionCount === 0 ? true : undefined),
        10_000,
      );
      assert.equal(target.stats.connects.length, 1, 'one connect, not retried');
      assert.equal(rig.stafd.proc.exitCode, null, 'stafd still running');
      assert.deepEqual(await rig.listControllers(false), []);
    } finally {
      await rig.stop();
      await target.stop();
    }
  },
);

test(
  'stop while connecting: stafd waits for the parked connect, closes it and exits 0',
  { timeout: 60_000 },
  async () => {
    const target = await FakeTarget.start({ connectDelayMs: CONNECT_DELAY_MS });
    const rig = await startFinderRig({
      conf: `${BASE}[Controllers]\ncontroller=transport=tcp;traddr=127.0.0.1;trsvcid=${target.port}\n`,
    });
    await rig.waitFor(
      'the Connect command at the target',
      async () => (target.stats.connects.length > 0 ? true : undefined),
      15_000,
    );
    try {
      // rig.stop() asserts exit code 0
      await rig.stop();
      assert.match(
        rig.stafd.output(),
        /connect in progress: controller parked until the connect completes \(then kept\)/,
      );
      assert.match(rig.stafd.output(), /parked controller released: connect completed/);
      // a userspace association never outlives the process, whatever persistent-connections says
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(target.stats.associationsClosed, 1);
      assert.equal(target.connectionCount, 0);
    } finally {
      await target.stop();
    }
  },
);
