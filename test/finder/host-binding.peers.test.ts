// host-iface / host-traddr with the userspace host, against the kernel target on the test LAN: a host with two
// interfaces on the LAN (lan0 = the default route, lan1) connects from the address the controller line asks for,
// as the target's own socket table shows; a host-iface that does not exist is logged with its reason, never fatal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { localAddressFor } from '../../daemons/nvme/tcp/host-binding.js';
import { attachToLan, ensureTargetVm, type LanHost, type TargetVm } from '../harness/target-vm/index.js';
import { startFinderRig, type FinderRig } from './rig.js';

const ifaces = {
  lo: [
    {
      address: '127.0.0.1',
      family: 'IPv4',
      internal: true,
      netmask: '255.0.0.0',
      mac: '00:00:00:00:00:00',
      cidr: '127.0.0.1/8',
    },
  ],
  eth0: [
    {
      address: '192.0.2.10',
      family: 'IPv4',
      internal: false,
      netmask: '255.255.255.0',
      mac: '52:54:00:00:00:01',
      cidr: '192.0.2.10/24',
    },
    {
      address: 'fe80::1',
      family: 'IPv6',
      internal: false,
      netmask: 'ffff:ffff:ffff:ffff::',
      mac: '52:54:00:00:00:01',
      cidr: 'fe80::1/64',
      scopeid: 2,
    },
    {
      address: '2001:db8::10',
      family: 'IPv6',
      internal: false,
      netmask: 'ffff:ffff:ffff:ffff::',
      mac: '52:54:00:00:00:01',
      cidr: '2001:db8::10/64',
      scopeid: 0,
    },
  ],
} as const;
type Ifaces = Parameters<typeof localAddressFor>[1];

test('localAddressFor: host-traddr checked against this host, host-iface resolved per target family', () => {
  const i = ifaces as unknown as Ifaces;
  assert.equal(localAddressFor({ traddr: '192.0.2.1' }, i), undefined);
  assert.equal(localAddressFor({ traddr: '192.0.2.1', hostIface: 'eth0' }, i), '192.0.2.10');
  assert.equal(
    localAddressFor({ traddr: '2001:db8::1', hostIface: 'eth0' }, i),
    '2001:db8::10',
    'a global IPv6 address, not the link-local one',
  );
  assert.equal(localAddressFor({ traddr: '192.0.2.1', hostTraddr: '192.0.2.10' }, i), '192.0.2.10');
  assert.equal(localAddressFor({ traddr: '192.0.2.1', hostTraddr: '192.0.2.10', hostIface: 'eth0' }, i), '192.0.2.10');
  assert.throws(
    () => localAddressFor({ traddr: '192.0.2.1', hostIface: 'eth9' }, i),
    /host-iface eth9: no such interface/,
  );
  assert.throws(
    () => localAddressFor({ traddr: '192.0.2.1', hostIface: 'lo', hostTraddr: '192.0.2.10' }, i),
    /not on host-iface lo/,
  );
  assert.throws(
    () => localAddressFor({ traddr: '192.0.2.1', hostTraddr: '198.51.100.7' }, i),
    /not an address of this host/,
  );
  assert.throws(() => localAddressFor({ traddr: '192.0.2.1', hostTraddr: 'eth0' }, i), /not an IP address/);
});

let vm: TargetVm;
let host: LanHost;
let lan1 = '';
let rig: FinderRig | undefined;

before(async () => {
  vm = await ensureTargetVm();
  host = await attachToLan('bind');
  lan1 = await host.addInterface('lan1');
});

after(async () => {
  await rig?.stop().catch(() => undefined);
  await host?.destroy();
});

test(
  'the target sees the connections come from the address host-iface / host-traddr name; a missing host-iface is reported',
  { timeout: 180_000 },
  async () => {
    const t = vm.lan.address;
    rig = await startFinderRig({
      wrap: ['ip', 'netns', 'exec', host.ns],
      conf:
        '[Global]\n\n[Service Discovery]\nzeroconf=disabled\n\n[Controllers]\n' +
        `controller=transport=tcp;traddr=${t};trsvcid=8009;host-iface=lan1\n` +
        `controller=transport=tcp;traddr=${t};trsvcid=8009;host-traddr=${lan1}\n` +
        `controller=transport=tcp;traddr=${t};trsvcid=8009;host-iface=nope0\n`,
    });
    const list = await rig.waitFor(
      'two DCs connected',
      async () => {
        const l = await rig!.listControllers(true);
        return l.filter((c) => c.connected === 'True').length === 2 ? l : undefined;
      },
      60_000,
    );
    assert.equal(list.length, 3);
    assert.equal(list.find((c) => c['host-iface'] === 'nope0')?.connected, 'False');
    const peers = await vm.tcpPeers(8009);
    assert.equal(
      peers.filter((p) => p === lan1).length,
      2,
      `both connections from lan1 (${lan1}), none from lan0 (${host.address}): ${peers.join(', ')}`,
    );
    assert.ok(
      !peers.includes(host.address),
      `no connection from the default-route address ${host.address}: ${peers.join(', ')}`,
    );
    await rig.stafd.waitForLog(/host-iface nope0: no such interface/, 10_000);
    assert.equal(rig.stafd.proc.exitCode, null, 'stafd keeps running');
  },
);
