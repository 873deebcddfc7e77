// `stacctl plan --json` for each disconnect-scope (configured controllers, userspace driver, the kernel target in
// QEMU), and bad input: excluded address, unreachable subsystem, refused connect, bogus option.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { ensureTargetVm, type TargetVm } from '../harness/target-vm/index.js';
import { DaemonClient, STACD } from '../../ctl/common/client.js';
import { register } from '../../ctl/stacctl/plan.js';
import type { PlanJson } from '../../daemons/connector/plan-json.js';
import { startConnectorRig, waitFor, connectedNqns, type ConnectorRig } from './rig.js';

const S1 = 'nqn.2024-01.io.example:subsys1';
const S2 = 'nqn.2024-01.io.example:subsys2';

/** Runs `stacctl plan --json` through the real sub-command module, in process, against the rig's bus. */
async function stacctlPlanJson(busAddress: string): Promise<PlanJson> {
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  process.env.DBUS_SYSTEM_BUS_ADDRESS = busAddress;
  const client = new DaemonClient(STACD);
  const program = new Command('stacctl');
  register(program, client);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    out += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'stacctl', 'plan', '--json']);
  } finally {
    process.stdout.write = write;
    client.close();
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  }
  assert.equal(process.exitCode ?? 0, 0, out);
  return JSON.parse(out) as PlanJson;
}

describe('stacctl plan --json per disconnect-scope', { timeout: 300_000 }, () => {
  let vm: TargetVm;
  before(async () => {
    vm = await ensureTargetVm();
  });

  const rows: [scope: string, trtypes: string, action: string, untracked: RegExp][] = [
    ['only-stas-connections', 'tcp', 'disconnect', /no longer configured; disconnect-scope=only-stas-connections/],
    [
      'all-connections-matching-disconnect-trtypes',
      'tcp',
      'disconnect',
      /no longer configured; disconnect-scope=all-connections-matching-disconnect-trtypes/,
    ],
    [
      'all-connections-matching-disconnect-trtypes',
      'rdma',
      'keep',
      /transport tcp is not in disconnect-trtypes \(rdma\): left connected/,
    ],
    ['no-disconnect', 'tcp', 'keep', /disconnect-scope=no-disconnect: left connected, no longer tracked/],
  ];
  for (const [scope, trtypes, action, reason] of rows) {
    it(`${scope} [${trtypes}]: a removed controller= line → ${action}`, async () => {
      const line = (n: string): string =>
        `controller=transport=tcp;traddr=127.0.0.1;trsvcid=${vm.ioPort};subsysnqn=${n}`;
      const conf = (lines: string[]): string =>
        `[Global]\n[I/O controller connection management]\ndisconnect-scope=${scope}\ndisconnect-trtypes=${trtypes}\n[Controllers]\n${lines.join('\n')}\n`;
      const rig: ConnectorRig = await startConnectorRig({ stacdConf: conf([line(S1), line(S2)]) });
      try {
        await waitFor(
          'both connected',
          async () => (connectedNqns(await rig.list(true)).length === 2 ? true : undefined),
          30_000,
        );
        const steady = await stacctlPlanJson(rig.bus.address);
        assert.equal(steady['disconnect-scope'], scope);
        assert.deepEqual(steady['disconnect-trtypes'], [trtypes]);
        assert.deepEqual(
          steady.steps.map((s) => s.action),
          ['keep', 'keep'],
        );
        assert.ok(
          steady.steps.every((s) => /^connected as nvme\?; configured \(controller=\)$/.test(s.reason)),
          JSON.stringify(steady.steps),
        );

        rig.etc.write('stacd.conf', conf([line(S1)]));
        rig.stacd.signal('SIGHUP');
        await rig.stacd.waitForLog('reload: applying', 5_000);
        const plan = await stacctlPlanJson(rig.bus.address); // within the 1.5 s soak: not done yet
        const s2 = plan.steps.find((s) => s.subsysnqn === S2)!;
        assert.equal(s2.action, action);
        assert.match(s2.reason, reason);
        assert.equal(s2.tracked, false);
        assert.equal(s2.origin, 'configured');
        assert.equal(plan.steps.find((s) => s.subsysnqn === S1)!.action, 'keep');
        assert.ok(!JSON.stringify(plan).includes('dhchap'));
        // and the pass then does what the plan said: S2 leaves the table
        await waitFor(
          'S2 out of the table',
          async () => ((await rig.list(false)).some((c) => c.subsysnqn === S2) ? undefined : true),
          10_000,
        );
        assert.deepEqual(connectedNqns(await rig.list(true)), [S1]);
        await rig.stacd.waitForLog(
          action === 'disconnect' ? /disconnect: no longer configured/ : /released: no longer configured/,
          5_000,
        );
      } finally {
        await rig.stop();
      }
    });
  }
});

describe('bad input: logged with the reason, retried per the rules, never a crash', { timeout: 120_000 }, () => {
  let vm: TargetVm;
  let rig: ConnectorRig;
  before(async () => {
    vm = await ensureTargetVm();
    rig = await startConnectorRig({
      stacdConf: [
        '[Global]',
        '[Controllers]',
        `controller=transport=tcp;traddr=127.0.0.1;trsvcid=${vm.ioPort};subsysnqn=${S1}`,
        // excluded address
        `controller=transport=tcp;traddr=127.0.0.2;trsvcid=${vm.ioPort};subsysnqn=${S2}`,
        'exclude=traddr=127.0.0.2',
        // unreachable: nothing listens there
        'controller=transport=tcp;traddr=127.0.0.1;trsvcid=9;subsysnqn=nqn.2024-01.io.example:nowhere',
        // refused by the target: unknown subsystem NQN
        `controller=transport=tcp;traddr=127.0.0.1;trsvcid=${vm.ioPort};subsysnqn=nqn.2024-01.io.example:no-such-subsystem`,
        // bogus option value
        `controller=transport=tcp;traddr=127.0.0.1;trsvcid=${vm.ioPort};subsysnqn=${S2};queue-size=lots`,
        // unusable entries
        'controller=transport=tcp;traddr=127.0.0.1',
        'controller=transport=bogus;traddr=127.0.0.1;trsvcid=1;subsysnqn=nqn.x',
        '',
      ].join('\n'),
    });
  });
  after(async () => rig?.stop());

  it('connects the good controller and logs every bad one with its reason', async () => {
    await waitFor(
      'good one connected',
      async () => (connectedNqns(await rig.list(true)).includes(S1) ? true : undefined),
      30_000,
    );
    await rig.stacd.waitForLog(/127\.0\.0\.2.*excluded by an exclude= line; ignored/, 5_000);
    await rig.stacd.waitForLog(/stacd\.conf:9: controller= entry ignored: subsysnqn missing/, 5_000);
    // an unknown transport has no port (nvme-stas): the entry is dropped as incomplete
    await rig.stacd.waitForLog(/stacd\.conf:10: controller= entry ignored: trsvcid missing/, 5_000);
    await rig.stacd.waitForLog(/nowhere\) connect failed: .*; retrying in 3 s/, 10_000);
    await rig.stacd.waitForLog(/no-such-subsystem\) connect failed: .*; retrying in 3 s/, 10_000);
    await rig.stacd.waitForLog(
      /subsys2\) connect failed: option queue-size: \\"lots\\" is not an integer; retrying in 3 s/,
      10_000,
    );
    const list = await rig.list(true);
    assert.equal(
      list.some((c) => c.traddr === '127.0.0.2'),
      false,
      'the excluded controller is not tracked',
    );
    assert.equal(list.length, 4);
  });

  it('retries 3 s after the first failure, then every 60 s, logging a repeated reason once', async () => {
    const nowhere = await waitFor(
      'second attempt',
      async () => {
        const c = (await rig.list(true)).find((x) => x.subsysnqn === 'nqn.2024-01.io.example:nowhere');
        return c && c['connect attempts'] === '2' ? c : undefined;
      },
      10_000,
    );
    assert.match(nowhere['retry connect timer']!, /^60\.0s \[\d+(\.\d+)?s\]$/);
    assert.equal(nowhere.connected, 'False');
    assert.match(
      nowhere['connect operation']!,
      /^\{'fail count': 2, 'completed': False, 'alive': True, 'retry timer': '60\.0s/,
    );
    const errors = rig.stacd
      .output()
      .split('\n')
      .filter((l) => l.includes('nowhere) connect failed'));
    assert.equal(errors.length, 1, 'the same reason is logged at error level once');
    // nothing was ever disconnected, the daemon still answers
    assert.equal(rig.stacd.output().includes('disconnect:'), false);
    assert.equal(rig.stacd.proc.exitCode, null);
    const plan = await rig.plan();
    assert.deepEqual(plan.steps.map((s) => s.action).sort(), ['keep', 'keep', 'keep', 'keep']);
    assert.ok(plan.steps.some((s) => /^retrying \(attempt 3\)/.test(s.reason)));
  });
});
