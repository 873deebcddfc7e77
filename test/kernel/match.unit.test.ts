// nvme-stas §4.8 matching rules as a truth table (pure function; runs on the host).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalIp,
  connectionMatches,
  connectionOf,
  ipEqual,
  WELL_KNOWN_DISCOVERY_NQN,
  type DeviceConnection,
  type InterfaceInfo,
  type MatchCandidate,
} from '../../daemons/nvme/kernel/match.js';
import {
  parseAddress,
  isDiscoveryCandidate,
  isIoCandidate,
  type KernelController,
} from '../../daemons/nvme/kernel/sysfs.js';

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555';
const SUB = 'nqn.2024-01.io.example:subsys1';

/** eth0 owns 192.168.1.10 and fe80::1; eth1 owns 10.0.0.5 */
const IFS: InterfaceInfo = {
  ifaceOfAddress: (a) =>
    ipEqual(a, '192.168.1.10') || ipEqual(a, 'fe80::1') ? 'eth0' : ipEqual(a, '10.0.0.5') ? 'eth1' : undefined,
  primaryAddressOf: (i) => (({ eth0: '192.168.1.10', eth1: '10.0.0.5' }) as Record<string, string>)[i],
};

const cand = (o: Partial<MatchCandidate> = {}): MatchCandidate => ({
  transport: 'tcp',
  traddr: '192.168.1.100',
  trsvcid: '8009',
  subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
  hostTraddr: '',
  hostIface: '',
  hostNqn: HOSTNQN,
  ...o,
});
const dev = (o: Partial<DeviceConnection> = {}): DeviceConnection => ({
  transport: 'tcp',
  traddr: '192.168.1.100',
  trsvcid: '8009',
  subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
  hostTraddr: '',
  hostIface: '',
  hostNqn: HOSTNQN,
  srcAddr: '',
  ...o,
});

const TABLE: Array<[string, Partial<MatchCandidate>, Partial<DeviceConnection>, boolean]> = [
  ['identical', {}, {}, true],
  ['transport differs', { transport: 'rdma' }, {}, false],
  ['trsvcid differs', {}, { trsvcid: '4420' }, false],
  ['host-nqn differs', {}, { hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:other' }, false],
  ['well-known NQN matches a unique discovery NQN', {}, { subsysnqn: 'nqn.1988-11.com.dell:SFSS:2:2022' }, true],
  ['specific NQN must be equal', { subsysnqn: SUB }, { subsysnqn: 'nqn.2024-01.io.example:subsys2' }, false],
  ['specific NQN equal', { subsysnqn: SUB, trsvcid: '4420' }, { subsysnqn: SUB, trsvcid: '4420' }, true],
  ['specific NQN does not match the well-known one on the device', { subsysnqn: SUB }, {}, false],
  ['traddr differs', {}, { traddr: '192.168.1.101' }, false],
  ['IPv4-mapped IPv6 device address', {}, { traddr: '::ffff:192.168.1.100' }, true],
  ['IPv4-mapped candidate address', { traddr: '::FFFF:c0a8:0164' }, {}, true],
  ['IPv6 case and compression', { traddr: 'FE80:0:0:0:0:0:0:A' }, { traddr: 'fe80::a' }, true],
  ['IPv6 different', { traddr: 'fe80::a' }, { traddr: 'fe80::b' }, false],
  [
    'candidate without host info matches any host side',
    {},
    { hostTraddr: '10.0.0.5', hostIface: 'eth1', srcAddr: '10.0.0.5' },
    true,
  ],
  ['src_addr: host-traddr equal', { hostTraddr: '192.168.1.10' }, { srcAddr: '192.168.1.10' }, true],
  ['src_addr: host-traddr differs', { hostTraddr: '192.168.1.10' }, { srcAddr: '10.0.0.5' }, false],
  ['src_addr: host-iface owns src_addr', { hostIface: 'eth0' }, { srcAddr: '192.168.1.10' }, true],
  ['src_addr: host-iface does not own src_addr', { hostIface: 'eth1' }, { srcAddr: '192.168.1.10' }, false],
  [
    'src_addr wins over the device host_traddr',
    { hostTraddr: '192.168.1.10' },
    { hostTraddr: '192.168.1.10', srcAddr: '10.0.0.5' },
    false,
  ],
  ['legacy: host-traddr vs device host_traddr', { hostTraddr: '192.168.1.10' }, { hostTraddr: '192.168.1.10' }, true],
  [
    'legacy: host-traddr vs other device host_traddr',
    { hostTraddr: '192.168.1.10' },
    { hostTraddr: '10.0.0.5' },
    false,
  ],
  [
    'legacy: host-traddr vs primary address of device host_iface',
    { hostTraddr: '10.0.0.5' },
    { hostIface: 'eth1' },
    true,
  ],
  ['legacy: host-traddr not on device host_iface', { hostTraddr: '10.0.0.5' }, { hostIface: 'eth0' }, false],
  ['legacy: host-iface vs device host_iface', { hostIface: 'eth0' }, { hostIface: 'eth0' }, true],
  ['legacy: host-iface vs other device host_iface', { hostIface: 'eth0' }, { hostIface: 'eth1' }, false],
  [
    'legacy: host-iface vs interface of device host_traddr',
    { hostIface: 'eth0' },
    { hostTraddr: '192.168.1.10' },
    true,
  ],
  [
    'legacy: host-iface vs other interface of device host_traddr',
    { hostIface: 'eth1' },
    { hostTraddr: '192.168.1.10' },
    false,
  ],
  ['legacy: no info on the device side is optimistic', { hostTraddr: '192.168.1.10', hostIface: 'eth0' }, {}, true],
  [
    'fc: host-traddr mandatory',
    { transport: 'fc', traddr: 'nn-0x1:pn-0x2', trsvcid: '' },
    { transport: 'fc', traddr: 'nn-0x1:pn-0x2', trsvcid: '' },
    false,
  ],
  [
    'fc: case-insensitive traddr and host-traddr',
    { transport: 'fc', traddr: 'NN-0x1:PN-0x2', trsvcid: '', hostTraddr: 'nn-0xA:pn-0xB' },
    { transport: 'fc', traddr: 'nn-0x1:pn-0x2', trsvcid: '', hostTraddr: 'NN-0xa:PN-0xb' },
    true,
  ],
  [
    'fc: host-traddr differs',
    { transport: 'fc', traddr: 'nn-0x1:pn-0x2', trsvcid: '', hostTraddr: 'nn-0xa:pn-0xb' },
    { transport: 'fc', traddr: 'nn-0x1:pn-0x2', trsvcid: '', hostTraddr: 'nn-0xa:pn-0xc' },
    false,
  ],
  [
    'rdma: host-traddr optional',
    { transport: 'rdma', trsvcid: '4420' },
    { transport: 'rdma', trsvcid: '4420', hostTraddr: '10.0.0.5' },
    true,
  ],
  [
    'rdma: host-traddr IP-equal',
    { transport: 'rdma', trsvcid: '4420', hostTraddr: '::ffff:10.0.0.5' },
    { transport: 'rdma', trsvcid: '4420', hostTraddr: '10.0.0.5' },
    true,
  ],
  [
    'rdma: host-traddr differs',
    { transport: 'rdma', trsvcid: '4420', hostTraddr: '10.0.0.6' },
    { transport: 'rdma', trsvcid: '4420', hostTraddr: '10.0.0.5' },
    false,
  ],
  [
    'loop: case-insensitive traddr',
    { transport: 'loop', traddr: 'Loop', trsvcid: '' },
    { transport: 'loop', traddr: 'loop', trsvcid: '' },
    true,
  ],
];

for (const [name, c, d, expected] of TABLE) {
  test(`match: ${name} → ${expected}`, () => {
    assert.equal(connectionMatches(cand(c), dev(d), IFS), expected);
  });
}

test('canonicalIp normalises IPv4, IPv6 and IPv4-mapped addresses, refuses non-IPs', () => {
  assert.equal(canonicalIp('::ffff:10.0.2.15'), '10.0.2.15');
  assert.equal(canonicalIp('::1'), '0:0:0:0:0:0:0:1');
  assert.equal(canonicalIp('[FE80::1%eth0]'), 'fe80:0:0:0:0:0:0:1');
  assert.equal(canonicalIp('2001:db8::'), '2001:db8:0:0:0:0:0:0');
  assert.equal(canonicalIp('host.example'), undefined);
  assert.equal(ipEqual('host.example', 'host.example'), true);
  assert.equal(ipEqual('host.example', 'HOST.example'), false);
});

test('parseAddress reads every field of sysfs address, none → empty', () => {
  assert.deepEqual(
    parseAddress('traddr=10.0.0.1,trsvcid=8009,host_traddr=10.0.0.5,host_iface=eth1,src_addr=10.0.0.5\n'),
    {
      traddr: '10.0.0.1',
      trsvcid: '8009',
      hostTraddr: '10.0.0.5',
      hostIface: 'eth1',
      srcAddr: '10.0.0.5',
    },
  );
  assert.deepEqual(parseAddress('traddr=::1,trsvcid=4420,host_iface=none'), {
    traddr: '::1',
    trsvcid: '4420',
    hostTraddr: '',
    hostIface: '',
    srcAddr: '',
  });
});

const ctrl = (o: Partial<KernelController>): KernelController => ({
  name: 'nvme0',
  instance: 0,
  state: 'live',
  transport: 'tcp',
  address: parseAddress('traddr=10.0.0.1,trsvcid=8009,src_addr=10.0.0.5'),
  addressRaw: '',
  subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
  hostnqn: HOSTNQN,
  hostid: '',
  cntlid: '1',
  cntrltype: 'discovery',
  dctype: 'none',
  model: 'Linux',
  serial: 'x',
  firmwareRev: '6.1',
  children: [],
  ...o,
});

test('connectionOf prefers udev properties, maps none → empty, takes NQNs and src_addr from sysfs', () => {
  const c = ctrl({});
  assert.deepEqual(connectionOf(c), {
    transport: 'tcp',
    traddr: '10.0.0.1',
    trsvcid: '8009',
    hostTraddr: '',
    hostIface: '',
    subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
    hostNqn: HOSTNQN,
    srcAddr: '10.0.0.5',
  });
  const u = connectionOf(c, {
    NVME_TRTYPE: 'tcp',
    NVME_TRADDR: '::ffff:10.0.0.1',
    NVME_TRSVCID: '8009',
    NVME_HOST_TRADDR: 'none',
    NVME_HOST_IFACE: 'eth1',
  });
  assert.equal(u.traddr, '::ffff:10.0.0.1');
  assert.equal(u.hostTraddr, '');
  assert.equal(u.hostIface, 'eth1');
});

test('DC / IOC candidate classification', () => {
  assert.equal(isDiscoveryCandidate(ctrl({})), true);
  assert.equal(isDiscoveryCandidate(ctrl({ cntrltype: '', subsysnqn: SUB, children: [] })), true); // no children
  assert.equal(isDiscoveryCandidate(ctrl({ cntrltype: 'io', subsysnqn: SUB, children: ['nvme0c0n1'] })), false);
  assert.equal(isIoCandidate(ctrl({ cntrltype: 'io', subsysnqn: SUB })), true);
  assert.equal(isIoCandidate(ctrl({ cntrltype: '', subsysnqn: SUB, children: ['nvme1n1'] })), true);
  assert.equal(isIoCandidate(ctrl({})), false);
});
