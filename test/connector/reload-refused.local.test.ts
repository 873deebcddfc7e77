// Issue #17 defect 2 with connections up: stafd and stacd (userspace driver) on a private bus, the in-process fake
// target serving a discovery controller and 4 subsystems, all 4 I/O controllers connected. A missing "=" in a
// controller= line of each daemon's file plus SIGHUP: both refuse the reload ("reload refused", file:line), the DC
// stays, nothing is disconnected, and stacd's plan keeps all four.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeTarget } from '../harness/fake-target/index.js';
import { startConnectorRig, waitFor, connectedNqns } from './rig.js';
import { callMethod } from '../../daemons/dbus/bus.js';

const NQNS = [1, 2, 3, 4].map((i) => `nqn.2024-01.io.example:refuse-${i}`);

test(
  'SIGHUP with a missing "=" in a controller= line: reload refused, the 4 I/O controllers stay connected',
  { timeout: 180_000 },
  async () => {
    const target = await FakeTarget.start({
      subsystems: NQNS.map((nqn, i) => ({
        nqn,
        namespaces: [{ nsid: 1, lbaSize: 512, blocks: 2048, uuid: `1111111${i}-2222-4333-8444-555555555555` }],
      })),
    });
    const stafdConf = (dc: string): string =>
      `[Global]\npleo=disabled\n[Service Discovery]\nzeroconf=disabled\n[Controllers]\n${dc}\n`;
    const stacdConf = (c: string): string => `[Global]\n[Controllers]\n${c}\n`;
    const goodDc = `controller=transport=tcp;traddr=127.0.0.1;trsvcid=${target.port}`;
    const goodIo = `controller=transport=tcp;traddr=127.0.0.1;trsvcid=${target.port};subsysnqn=${NQNS[0]}`;
    const rig = await startConnectorRig({ stafdConf: stafdConf(goodDc), stacdConf: stacdConf(goodIo) });
    try {
      await waitFor(
        '4 I/O controllers connected',
        async () => (connectedNqns(await rig.list(true)).length === 4 ? true : undefined),
        60_000,
      ).catch((e: Error) => {
        throw new Error(
          `${e.message}\nstacd:\n${rig.stacd.output().slice(-4000)}\nstafd:\n${rig.stafd!.output().slice(-2000)}`,
        );
      });
      assert.deepEqual(connectedNqns(await rig.list(true)), NQNS);
      const closedBefore = target.stats.associationsClosed;
      const ioConnectsBefore = target.stats.connects.filter((c) => c.qid > 0).length;

      // the typo of the issue: `trsvcid41809`, in both files
      rig.etc.write('stafd.conf', stafdConf(`controller=transport=tcp;traddr=127.0.0.1;trsvcid${target.port}`));
      rig.etc.write(
        'stacd.conf',
        stacdConf(`controller=transport=tcp;traddr=127.0.0.1;trsvcid${target.port};subsysnqn=${NQNS[0]}`),
      );
      rig.stafd!.signal('SIGHUP');
      rig.stacd.signal('SIGHUP');
      const fLine = await rig.stafd!.waitForLog('reload refused', 10_000);
      const cLine = await rig.stacd.waitForLog('reload refused', 10_000);
      assert.match(fLine, /1 error\(s\) in .*stafd\.conf/);
      assert.match(cLine, /1 error\(s\) in .*stacd\.conf/);
      assert.match(
        rig.stafd!.output(),
        new RegExp(`stafd\\.conf:6: \\[Controllers\\] controller: token \\\\"trsvcid${target.port}\\\\" has no`),
      );
      assert.match(
        rig.stacd.output(),
        new RegExp(`stacd\\.conf:3: \\[Controllers\\] controller: token \\\\"trsvcid${target.port}\\\\" has no`),
      );

      // stafd still has its DC, stacd's plan keeps all four, nothing was disconnected
      const [dcs] = await callMethod(rig.client, {
        destination: 'org.nvmexpress.staf',
        path: '/org/nvmexpress/staf',
        interface: 'org.nvmexpress.staf',
        member: 'list_controllers',
        signature: 'b',
        body: [false],
      });
      assert.deepEqual(
        (dcs as Record<string, string>[]).map((d) => d.trsvcid),
        [String(target.port)],
      );
      const plan = await rig.plan();
      assert.deepEqual(
        plan.steps.map((s) => `${s.subsysnqn} ${s.action}`).sort(),
        NQNS.map((n) => `${n} keep`),
      );
      // a later pass of stacd (the signal of a valid, unchanged reload of stafd) still changes nothing
      rig.etc.write('stafd.conf', stafdConf(goodDc));
      rig.stafd!.signal('SIGHUP');
      await rig.stafd!.waitForLog('reload: configuration unchanged', 10_000);
      assert.deepEqual(connectedNqns(await rig.list(true)), NQNS);
      assert.equal(target.stats.associationsClosed, closedBefore, 'no association was closed');
      assert.equal(
        target.stats.connects.filter((c) => c.qid > 0).length,
        ioConnectsBefore,
        'no I/O queue was reconnected',
      );
      assert.doesNotMatch(rig.stacd.output(), /disconnect: /);
      assert.equal(rig.stacd.proc.exitCode, null);
      assert.equal(rig.stafd!.proc.exitCode, null);
    } finally {
      await rig.stop();
      await target.stop();
    }
  },
);
