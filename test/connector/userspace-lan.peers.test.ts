// stacd with the userspace driver on a host of the test LAN, straight at the kernel target (no address map):
// nr-io-queues gives that many I/O queues — each its own TCP connection, as the target's socket table shows —
// and host-iface makes every connection of a controller come from that interface's address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { attachToLan, ensureTargetVm, type LanHost, type TargetVm } from '../harness/target-vm/index.js';
import { startConnectorRig, waitFor, type ConnectorRig } from './rig.js';

let vm: TargetVm;
let host: LanHost;
let lan1 = '';
let rig: ConnectorRig | undefined;

before(async () => {
  vm = await ensureTargetVm();
  host = await attachToLan('ioq');
  lan1 = await host.addInterface('lan1');
});

after(async () => {
  await rig?.stop().catch(() => undefined);
  await host?.destroy();
});

test('nr-io-queues=3 over lan1: an admin queue and 3 I/O queues, all from lan1', { timeout: 120_000 }, async () => {
  const [s1, s2] = vm.defaultSubsystems as [string, string];
  rig = await startConnectorRig({
    wrap: ['ip', 'netns', 'exec', host.ns],
    stacdConf:
      '[Global]\n[Controllers]\n' +
      `controller=transport=tcp;traddr=${vm.lan.address};trsvcid=4420;subsysnqn=${s1};host-iface=lan1;nr-io-queues=3\n` +
      `controller=transport=tcp;traddr=${vm.lan.address};trsvcid=4420;subsysnqn=${s2}\n`,
  });
  await waitFor(
    'both connected',
    async () => {
      const l = await rig!.list(true);
      return l.length === 2 && l.every((c) => c.connected === 'True') ? true : undefined;
    },
    60_000,
  );
  const peers = await vm.tcpPeers(4420);
  // s1: 1 admin + 3 I/O from lan1; s2: 1 admin + 1 I/O (the default) from lan0, the default route
  assert.equal(peers.filter((p) => p === lan1).length, 4, `connections from lan1 (${lan1}): ${peers.join(', ')}`);
  assert.equal(
    peers.filter((p) => p === host.address).length,
    2,
    `connections from lan0 (${host.address}): ${peers.join(', ')}`,
  );
  await rig.stop();
  rig = undefined;
  // stacd's userspace sessions end with it: nothing of this host is left on the target
  const left = await waitFor(
    'connections closed',
    async () => {
      const p = (await vm.tcpPeers(4420)).filter((a) => a === lan1 || a === host.address);
      return p.length === 0 ? p : undefined;
    },
    15_000,
  );
  assert.deepEqual(left, []);
});
