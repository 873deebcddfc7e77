import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TID, pythonStr, type TidContext } from '../../daemons/common/tid.js';
import { isExcluded, matchesExclude } from '../../daemons/common/exclude.js';

const CTX: TidContext = { ignoreIface: false, hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:host' };

test('normalisation: missing strings, trsvcid defaults per transport (tcp 8009 for both daemons, rdma 4420)', () => {
  const tcp = TID.fromCid({ transport: 'tcp', traddr: '10.0.0.1' }, CTX);
  assert.equal(tcp.trsvcid, '8009');
  assert.equal(tcp.subsysnqn, '');
  assert.equal(tcp.hostTraddr, '');
  assert.equal(tcp.hostIface, '');
  assert.equal(tcp.hostNqn, CTX.hostNqn);
  assert.equal(TID.fromCid({ transport: 'rdma', traddr: '10.0.0.1', trsvcid: '' }, CTX).trsvcid, '4420');
  assert.equal(TID.fromCid({ transport: 'tcp', traddr: 'a', trsvcid: '4420' }, CTX).trsvcid, '4420');
  assert.equal(TID.fromCid({ transport: 'fc', traddr: 'nn-0x1:pn-0x2', trsvcid: '99' }, CTX).trsvcid, '');
  assert.equal(TID.fromCid({ transport: 'loop', traddr: 'x', trsvcid: '1' }, CTX).trsvcid, '');
});

test('ignore-iface drops host-iface from the identity; host-nqn from the entry overrides sys.conf', () => {
  const cid = { transport: 'tcp', traddr: '1.2.3.4', 'host-iface': 'eth0', 'host-nqn': 'nqn.other' };
  assert.equal(TID.fromCid(cid, CTX).hostIface, 'eth0');
  const ign = TID.fromCid(cid, { ...CTX, ignoreIface: true });
  assert.equal(ign.hostIface, '');
  assert.equal(ign.hostNqn, 'nqn.other');
  assert.equal(ign.idDict('nvme?')['host-iface'], '');
});

test('equality and key are exact 7-tuple equality (no IP canonicalisation)', () => {
  const a = TID.fromCid({ transport: 'tcp', traddr: 'fe80::1', trsvcid: '8009', subsysnqn: 'n' }, CTX);
  const b = TID.fromCid(
    [
      ['subsysnqn', 'n'],
      ['traddr', 'fe80::1'],
      ['transport', 'tcp'],
      ['kato', 5],
    ],
    CTX,
  );
  const c = TID.fromCid({ transport: 'tcp', traddr: 'FE80::1', subsysnqn: 'n' }, CTX);
  const d = TID.fromCid({ transport: 'tcp', traddr: 'fe80::1', subsysnqn: 'n', 'host-nqn': 'nqn.x' }, CTX);
  assert.ok(a.equals(b));
  assert.equal(a.key(), b.key());
  assert.ok(!a.equals(c));
  assert.ok(!a.equals(d));
  const m = new Map([[a.key(), 1]]);
  assert.equal(m.get(b.key()), 1);
  const t = TID.fromTuple(
    { transport: 'tcp', traddr: 'fe80::1', trsvcid: '', subsysnqn: 'n', hostTraddr: '', hostIface: '', hostNqn: '' },
    CTX,
  );
  assert.ok(t.equals(a), 'D-Bus 7-tuple normalised the same way');
});

test('printable form', () => {
  const t = TID.fromCid(
    {
      transport: 'tcp',
      traddr: '10.10.10.10',
      subsysnqn: 'nqn.1988-11.com.dell:SFSS:2:20220208134025e8',
      'host-iface': 'wlp0s20f3',
      'host-traddr': '1.2.3.4',
    },
    CTX,
  );
  assert.equal(String(t), '(tcp, 10.10.10.10, 8009, nqn.1988-11.com.dell:SFSS:2:20220208134025e8, wlp0s20f3, 1.2.3.4)');
  assert.equal(String(TID.fromCid({ transport: 'fc', traddr: 'nn-1:pn-2' }, CTX)), '(fc, nn-1:pn-2, )');
  assert.equal(String(TID.fromCid({ transport: 'tcp', traddr: 'a', 'host-traddr': 'b' }, CTX)), '(tcp, a, 8009, b)');
});

test('idDict: key order of §1.6.1, bag in config order, Python str() values, no dhchap secrets', () => {
  const t = TID.fromCid(
    [
      ['kato', 17],
      ['transport', 'tcp'],
      ['dhchap-secret', 'DHHC-1:00:secret:'],
      ['traddr', '::1'],
      ['hdr-digest', true],
      ['host-iface', 'lo'],
      ['ip-family', [4]],
      ['dhchap-ctrl-secret', 'DHHC-1:00:ctrl:'],
      ['zzz', 'last'],
    ],
    CTX,
  );
  const d = t.idDict('nvme3');
  assert.deepEqual(Object.keys(d), [
    'traddr',
    'trsvcid',
    'transport',
    'subsysnqn',
    'host-iface',
    'host-traddr',
    'kato',
    'hdr-digest',
    'ip-family',
    'zzz',
    'host-nqn',
    'device',
  ]);
  assert.deepEqual(d, {
    traddr: '::1',
    trsvcid: '8009',
    transport: 'tcp',
    subsysnqn: '',
    'host-iface': 'lo',
    'host-traddr': '',
    kato: '17',
    'hdr-digest': 'True',
    'ip-family': '(4,)',
    zzz: 'last',
    'host-nqn': CTX.hostNqn,
    device: 'nvme3',
  });
  assert.ok(!JSON.stringify(d).includes('DHHC'));
  assert.equal(t.get('dhchap-secret'), 'DHHC-1:00:secret:', 'secrets stay in the bag for connecting');
});

test('idDict: a host-nqn in the bag keeps its position and shows the TID host NQN', () => {
  const t = TID.fromCid(
    [
      ['transport', 'tcp'],
      ['traddr', 'a'],
      ['host-nqn', 'nqn.mine'],
      ['kato', '5'],
    ],
    CTX,
  );
  assert.deepEqual(Object.keys(t.idDict('nvme?')), [
    'traddr',
    'trsvcid',
    'transport',
    'subsysnqn',
    'host-iface',
    'host-traddr',
    'host-nqn',
    'kato',
    'device',
  ]);
  assert.equal(t.idDict('nvme?')['host-nqn'], 'nqn.mine');
});

test('pythonStr', () => {
  assert.equal(pythonStr(false), 'False');
  assert.equal(pythonStr(-1), '-1');
  assert.equal(pythonStr([4, 6]), '(4, 6)');
  assert.equal(pythonStr('x'), 'x');
});

test('asCid round trip rebuilds an equal TID with the same bag', () => {
  const t = TID.fromCid(
    [
      ['transport', 'tcp'],
      ['traddr', 'a'],
      ['kato', 5],
      ['dhchap-secret', 's'],
    ],
    CTX,
  );
  const u = TID.fromCid(t.asCid(), { ...CTX, hostNqn: 'nqn.other-default' });
  assert.ok(u.equals(t));
  assert.deepEqual([...u.cfg], [...t.cfg, ['host-nqn', CTX.hostNqn]]);
});

test('exclusion: minimal match, exact case-sensitive, bag keys, empty entry matches all', () => {
  const t = TID.fromCid(
    { transport: 'tcp', traddr: 'fe80::1', subsysnqn: 'nqn.s', 'host-iface': 'eth0', src: 'x', kato: 17 },
    CTX,
  );
  const m = t.matchDict();
  assert.ok(matchesExclude([['transport', 'tcp']], m));
  assert.ok(
    matchesExclude(
      [
        ['traddr', 'fe80::1'],
        ['host-iface', 'eth0'],
      ],
      m,
    ),
  );
  assert.ok(matchesExclude([['trsvcid', '8009']], m), 'normalised trsvcid');
  assert.ok(!matchesExclude([['traddr', 'FE80::1']], m));
  assert.ok(
    !matchesExclude(
      [
        ['traddr', 'fe80::1'],
        ['host-iface', 'eth1'],
      ],
      m,
    ),
  );
  assert.ok(matchesExclude([['src', 'x']], m), 'bag keys are compared too');
  assert.ok(!matchesExclude([['kato', '17']], m), 'text never equals a converted number (nvme-stas)');
  assert.ok(!matchesExclude([['nope', '']], m));
  assert.ok(matchesExclude([], m));
  assert.ok(isExcluded([[['traddr', 'x']], []], m));
  assert.ok(!isExcluded([], m));
  assert.ok(!isExcluded([[['traddr', 'x']]], m));
});
