// Runs INSIDE the kernel-host VM (started by test/connector/kernel-vm.peers.test.ts), as root, against the VM's own
// nvmet target on 127.0.0.1: the real compiled stacd with the kernel driver on a private bus. Records what it sees
// at each step in its report (the host-side test asserts on it); a step that cannot complete ends the scenario
// with the reason. Every wait is bounded.
import { execa } from 'execa';
import { listControllers } from '../../../daemons/nvme/kernel/sysfs.js';
import { startConnectorRig, waitFor } from '../rig.js';
import { printReport } from '../../harness/target-vm/scenario.js';

const S1 = 'nqn.2024-01.io.example:subsys1';
const S2 = 'nqn.2024-01.io.example:subsys2';
const report: Record<string, unknown> = {};
const step = (k: string, v: unknown): void => {
  report[k] = v;
  process.stderr.write(`[scenario] ${k}: ${JSON.stringify(v)}\n`);
};
const ioDevices = async (nqn: string): Promise<string[]> =>
  (await listControllers()).filter((c) => c.subsysnqn === nqn && c.state !== 'deleting').map((c) => c.name);
const line = (n: string): string =>
  `controller=transport=tcp;traddr=127.0.0.1;trsvcid=4420;subsysnqn=${n};nr-io-queues=2;kato=10;ctrl-loss-tmo=60`;
const conf = (lines: string[]): string => `[Global]\n[Controllers]\n${lines.join('\n')}\n`;

const rig = await startConnectorRig({
  stacdConf: conf([]),
  env: { STAS_FABRICS_DRIVER: 'kernel' },
  nameTimeoutMs: 180_000,
});
let byHand = '';
try {
  // a connection made by hand, before stacd wants it
  await execa(
    'nvme',
    [
      'connect',
      '-t',
      'tcp',
      '-a',
      '127.0.0.1',
      '-s',
      '4420',
      '-n',
      S2,
      `--hostnqn=${rig.etc.hostnqn}`,
      `--hostid=${rig.etc.hostid}`,
    ],
    { timeout: 60_000 },
  );
  byHand = (await waitFor('hand-made controller', async () => (await ioDevices(S2))[0], 20_000))!;
  step('byHand', byHand);

  rig.etc.write('stacd.conf', conf([line(S1), line(S2)]));
  rig.stacd.signal('SIGHUP');
  const list = await waitFor(
    'both connected',
    async () => {
      const l = await rig.list(true);
      return l.length === 2 && l.every((c) => c.connected === 'True') ? l : undefined;
    },
    120_000,
  );
  const d1 = list.find((c) => c.subsysnqn === S1)!.device!;
  const d2 = list.find((c) => c.subsysnqn === S2)!.device!;
  step('devices', { d1, d2 });
  step('s2DevicesAfterConnect', await ioDevices(S2));
  const subsys = (await execa('nvme', ['list-subsys'], { timeout: 30_000 })).stdout;
  step('listSubsys', { s1: subsys.includes(S1), s2: subsys.includes(S2) });
  step(
    'adoptionLogged',
    /found existing kernel controller nvme\d+; adopting it|adopted existing kernel controller/.test(rig.stacd.output()),
  );

  // remove S2 from the configuration: made by hand → left alone under only-stas-connections
  rig.etc.write('stacd.conf', conf([line(S1)]));
  rig.stacd.signal('SIGHUP');
  await rig.stacd.waitForLog('released:', 10_000);
  step('s2DevicesAfterRelease', await ioDevices(S2));

  // restart stacd: S1 is adopted back from the cache, not duplicated
  await rig.restartStacd();
  const again = await waitFor(
    'S1 back',
    async () => {
      const l = await rig.list(true);
      return l.length === 1 && l[0]!.connected === 'True' ? l[0] : undefined;
    },
    30_000,
  );
  step('afterRestart', { device: again.device, s1Devices: await ioDevices(S1) });

  // remove S1 (stas made it): disconnected through delete_controller
  rig.etc.write('stacd.conf', conf([]));
  rig.stacd.signal('SIGHUP');
  step(
    'stasMadeDisconnected',
    await waitFor('S1 deleted', async () => ((await ioDevices(S1)).length === 0 ? true : undefined), 20_000),
  );
  printReport({ ok: true, ...report });
} catch (e) {
  printReport({ ok: false, error: (e as Error).message, ...report, log: rig.stacd.output().slice(-4000) });
  process.exitCode = 1;
} finally {
  await rig.stop();
  for (const d of [...(await ioDevices(S1)), ...(await ioDevices(S2))])
    await execa('nvme', ['disconnect', '-d', d], { reject: false });
}
