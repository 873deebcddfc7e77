// Desired state: stafd's get_all_log_pages JSON → IOC TIDs, merged with controller= lines, minus exclude=.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { TidContext } from '../../daemons/common/tid.js';
import { iocsFromLogPages, computeDesiredState } from '../../daemons/connector/desired-state.js';
import type { ControllerSpec } from '../../daemons/config/controllers.js';

const ctx: TidContext = { ignoreIface: false, hostNqn: 'nqn.host' };
const dc = (iface: string): Record<string, string> => ({
  traddr: '10.0.0.100',
  trsvcid: '8009',
  transport: 'tcp',
  subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
  'host-iface': iface,
  'host-traddr': '',
  'host-nqn': 'nqn.host',
  device: 'nvme0',
});
const e = (n: string, subtype = 'nvme', eflags = '0'): Record<string, string> => ({
  trtype: 'tcp',
  adrfam: 'ipv4',
  traddr: '10.0.0.1',
  trsvcid: '4420',
  subnqn: n,
  subtype,
  treq: 'not specified',
  portid: '1',
  cntlid: '65535',
  asqsz: '32',
  eflags,
});
const spec = (text: [string, string | number][], line = 3): ControllerSpec => ({
  cid: text,
  ref: { file: '/etc/stas/stacd.conf', line },
});

it('only nvme entries become IOCs, inheriting the DC host side; duplicates collapse, paths stay apart', () => {
  const json = JSON.stringify([
    {
      'discovery-controller': dc('eth0'),
      'log-pages': [e('nqn.a'), e('nqn.ref', 'referral'), e('nqn.disc', 'discovery'), e('nqn.b', 'nvme', '4')],
    },
    { 'discovery-controller': dc('eth0'), 'log-pages': [e('nqn.a')] },
    { 'discovery-controller': dc('eth1'), 'log-pages': [e('nqn.a')] },
    { broken: true },
  ]);
  const r = iocsFromLogPages(json, ctx);
  assert.deepEqual(r.iocs.map((i) => `${i.tid.subsysnqn}@${i.tid.hostIface}`).sort(), [
    'nqn.a@eth0',
    'nqn.a@eth1',
    'nqn.b@eth0',
  ]);
  assert.equal(r.problems.length, 1);
  assert.throws(() => iocsFromLogPages('{"not": "an array"}', ctx), /JSON array/);
  assert.throws(() => iocsFromLogPages('garbage', ctx));

  const d = computeDesiredState({
    controllers: [],
    excludes: [[['host-iface', 'eth1']]],
    ipv4: true,
    ipv6: true,
    learned: r.iocs,
    discovery: 'answered',
    tidContext: ctx,
  });
  assert.equal(d.state.iocs.size, 2);
  assert.equal([...d.state.iocs.values()].find((i) => i.tid.subsysnqn === 'nqn.b')!.ncc, true);
  assert.equal([...d.state.dropped.values()][0], 'excluded by an exclude= line');
});

it('controller= lines: configured wins over the DLPE (keeps its settings, follows NCC); bad ones are reported with file:line', () => {
  const learned = iocsFromLogPages(
    JSON.stringify([{ 'discovery-controller': dc(''), 'log-pages': [e('nqn.a', 'nvme', '4')] }]),
    ctx,
  ).iocs;
  const d = computeDesiredState({
    controllers: [
      spec(
        [
          ['transport', 'tcp'],
          ['traddr', '10.0.0.1'],
          ['trsvcid', '4420'],
          ['subsysnqn', 'nqn.a'],
          ['kato', 17],
        ],
        3,
      ),
      spec(
        [
          ['transport', 'tcp'],
          ['traddr', '10.0.0.1'],
        ],
        4,
      ),
      spec(
        [
          ['transport', 'tcp'],
          ['traddr', 'fe80::1'],
          ['trsvcid', '4420'],
          ['subsysnqn', 'nqn.v6'],
        ],
        5,
      ),
      spec(
        [
          ['transport', 'tcp'],
          ['traddr', 'no-such-host.invalid'],
          ['trsvcid', '4420'],
          ['subsysnqn', 'nqn.h'],
        ],
        6,
      ),
    ],
    excludes: [],
    ipv4: true,
    ipv6: false,
    learned,
    discovery: 'answered',
    tidContext: ctx,
  });
  assert.equal(d.state.iocs.size, 1);
  const a = [...d.state.iocs.values()][0]!;
  assert.equal(a.origin, 'configured');
  assert.equal(a.tid.get('kato'), 17);
  assert.equal(a.ncc, true);
  assert.match(d.configProblems[0]!, /stacd\.conf:4: controller= entry ignored: subsysnqn missing/);
  assert.match(
    d.configProblems[1]!,
    /stacd\.conf:5: controller= .*IPv6 address fe80::1 excluded by ip-family; ignored/,
  );
  assert.match(d.configProblems[2]!, /stacd\.conf:6: controller= .*cannot resolve traddr "no-such-host\.invalid"/);
});
