// The real stafd (userspace fabrics driver) against the in-process fake NVMe/TCP target: the D-Bus surface with
// nvme-stas's keys, AEN -> log_pages_changed within 2 s, malformed entries, error statuses, a target that closes
// mid-PDU, referrals with the loop guard, dc_removed, and the warm cache.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeTarget, DISCOVERY_NQN } from '../harness/fake-target/index.js';
import { startFinderRig, dcTuple, type FinderRig } from './rig.js';
import { formatDhchapSecret, generateDhchapSecret } from '../../daemons/nvme/protocol/index.js';
import type { DiscoveryLogEntryFields } from '../../daemons/nvme/protocol/discovery-log.js';

const ID_KEYS = ['traddr', 'trsvcid', 'transport', 'subsysnqn', 'host-iface', 'host-traddr', 'host-nqn', 'device'];
const DLPE_KEYS = [
  'trtype',
  'adrfam',
  'traddr',
  'trsvcid',
  'subnqn',
  'subtype',
  'treq',
  'portid',
  'cntlid',
  'asqsz',
  'eflags',
];

let target: FakeTarget;
let rig: FinderRig;

const conf = (port: number, extra = ''): string =>
  `[Global]\npleo=disabled\n${extra}\n[Service Discovery]\nzeroconf=disabled\n\n[Controllers]\ncontroller=transport=tcp;traddr=127.0.0.1;trsvcid=${port}\n`;

function subsys(n: number, port: number): DiscoveryLogEntryFields {
  return {
    subtype: 2,
    subnqn: `nqn.2024-01.io.example:fake-${n}`,
    traddr: '127.0.0.1',
    trsvcid: String(port),
    treq: 4,
  };
}

before(async () => {
  target = await FakeTarget.start();
  rig = await startFinderRig({ conf: conf(target.port) });
});

after(async () => {
  await rig?.stop();
  await target?.stop();
});

test('a configured DC is connected and its log page is served with nvme-stas keys', async () => {
  const tid = dcTuple('127.0.0.1', String(target.port), rig.etc.hostnqn);
  const sig = await rig.waitSignal((s) => s.member === 'log_pages_changed', 10_000);
  assert.deepEqual(sig.body, [...tid, 'nvme?']);
  const pages = await rig.getLogPages(tid);
  assert.equal(pages.length, target.discoveryEntries.length);
  assert.deepEqual(Object.keys(pages[0]!), DLPE_KEYS);
  assert.equal(pages[0]!.subtype, 'discovery');
  assert.equal(pages[1]!.subnqn, 'nqn.2024-01.io.example:fake1');
  assert.equal(pages[1]!.treq, 'disable sqflow');

  const [id] = await rig.listControllers(false);
  assert.deepEqual(Object.keys(id!), ID_KEYS);
  assert.equal(id!.trsvcid, String(target.port));
  assert.equal(id!['host-nqn'], rig.etc.hostnqn);

  const [d] = await rig.listControllers(true);
  assert.equal(d!.connected, 'True');
  assert.equal(d!.origin, 'configured');
  assert.equal(d!['connect attempts'], '0');
  assert.equal(d!['retry connect timer'], '60.0s [off]');
  assert.equal(d!.cntrltype, 'discovery');
  assert.equal(d!.hostnqn, rig.etc.hostnqn);
  assert.match(d!['get log page operation']!, /^\{'fail count': 0, 'completed': True, 'alive': True\}$/);

  const all = await rig.allLogPages(true);
  assert.equal(all.length, 1);
  assert.deepEqual(Object.keys(all[0]!), ['discovery-controller', 'log-pages']);
  assert.equal(all[0]!['log-pages'].length, pages.length);
  const text = (await rig.call('get_all_log_pages', 'b', [false]))[0] as string;
  assert.match(
    text,
    /^\[\{"discovery-controller": \{"traddr": "127\.0\.0\.1", "trsvcid": /,
    'Python json.dumps separators',
  );

  const info = await rig.processInfo();
  assert.deepEqual(Object.keys(info).slice(0, 11), [
    'tron',
    'log-level',
    'hostnqn',
    'hostid',
    'hostkey',
    'symname',
    'last known config file',
    'config soak timer',
    'kernel support.TP8013',
    'kernel support.host_iface',
    'terminator.audit timer',
  ]);
  assert.equal(info.hostkey, null);
  assert.equal(info['stas.fabrics driver'], 'userspace');
  assert.equal((await rig.call('controller_info', 'sssssss', tid, 'org.nvmexpress.staf.debug'))[0] !== '{}', true);
  assert.equal(
    (
      await rig.call(
        'controller_info',
        'sssssss',
        dcTuple('192.0.2.9', '8009', rig.etc.hostnqn),
        'org.nvmexpress.staf.debug',
      )
    )[0],
    '{}',
  );
  assert.deepEqual(await rig.getLogPages(dcTuple('192.0.2.9', '8009', rig.etc.hostnqn)), []);
});

test('a log page change (AEN) raises log_pages_changed within 2 s, twice in a row', async () => {
  await rig.waitFor(
    'first log page',
    async () =>
      (await rig.getLogPages(dcTuple('127.0.0.1', String(target.port), rig.etc.hostnqn))).length ? true : undefined,
    10_000,
  );
  for (const n of [2, 3]) {
    const since = Date.now();
    const entries = [...target.discoveryEntries, subsys(n, target.port)];
    target.setDiscoveryEntries(entries);
    await rig.waitSignal((s) => s.member === 'log_pages_changed', 2_000, since);
    const pages = await rig.getLogPages(dcTuple('127.0.0.1', String(target.port), rig.etc.hostnqn));
    assert.ok(
      pages.some((p) => p.subnqn === `nqn.2024-01.io.example:fake-${n}`),
      `fake-${n} listed within 2 s`,
    );
  }
});

test('malformed entries are dropped, counted and logged; unusable addresses dropped; the rest is served', async () => {
  const before = (await rig.processInfo())['stas.malformed dlp entries'] as number;
  const since = Date.now();
  target.setDiscoveryEntries([
    subsys(10, target.port),
    { subtype: 2, subnqn: 'nqn.2024-01.io.example:bad\x01ctl', traddr: '127.0.0.1', trsvcid: String(target.port) },
    { subtype: 2, subnqn: 'nqn.2024-01.io.example:badaddr', traddr: 'not-an-ip', trsvcid: '4420', adrfam: 1 },
    { subtype: 2, subnqn: 'nqn.2024-01.io.example:badport', traddr: '10.0.0.1', trsvcid: '99999', adrfam: 1 },
    { subtype: 2, subnqn: 'nqn.2024-01.io.example:zero', traddr: '0.0.0.0', trsvcid: '4420', adrfam: 1 },
    {
      subtype: 2,
      subnqn: 'nqn.2024-01.io.example:odd',
      traddr: '10.0.0.2',
      trsvcid: '4420',
      trtype: 77,
      adrfam: 99,
      treq: 5,
    },
  ]);
  await rig.waitSignal((s) => s.member === 'log_pages_changed', 2_000, since);
  const pages = await rig.getLogPages(dcTuple('127.0.0.1', String(target.port), rig.etc.hostnqn));
  assert.deepEqual(
    pages.map((p) => p.subnqn),
    ['nqn.2024-01.io.example:fake-10', 'nqn.2024-01.io.example:odd'],
  );
  const odd = pages[1]!;
  assert.equal(odd.trtype, '77');
  assert.equal(odd.adrfam, '99');
  assert.equal(odd.treq, '5');
  const info = await rig.processInfo();
  assert.equal(info['stas.malformed dlp entries'], before + 3);
  await rig.stafd.waitForLog('malformed entr', 2_000);
});

test('a DC that closes the socket mid-PDU is counted and reconnected with back-off', async () => {
  const tid = dcTuple('127.0.0.1', String(target.port), rig.etc.hostnqn);
  const connectsBefore = target.stats.connects.length;
  const errsBefore = (await rig.processInfo())['stas.protocol errors'] as number;
  target.addFault({ opc: 0x02, action: 'close-mid-pdu' });
  const since = Date.now();
  target.setDiscoveryEntries([subsys(20, target.port)]);
  await rig.waitFor(
    'protocol error counted',
    async () => (((await rig.processInfo())['stas.protocol errors'] as number) > errsBefore ? true : undefined),
    5_000,
  );
  const [d] = await rig.listControllers(true);
  assert.equal(d!.connected, 'False');
  assert.match(d!['retry connect timer']!, /^3\.0s \[/, 'first reconnect after 3 s');
  // reconnected, and the change that was in flight is picked up by the read on connect
  const sig = await rig.waitSignal((s) => s.member === 'log_pages_changed', 6_000, since);
  assert.equal(sig.body[1], '127.0.0.1');
  assert.ok(target.stats.connects.length > connectsBefore);
  assert.deepEqual(
    (await rig.getLogPages(tid)).map((p) => p.subnqn),
    ['nqn.2024-01.io.example:fake-20'],
  );
  assert.equal((await rig.listControllers(true))[0]!.connected, 'True');
});

test('referrals become DCs (origin referral); self-referrals are ignored; a removed referral emits dc_removed', async () => {
  const other = await FakeTarget.start();
  try {
    const since = Date.now();
    target.setDiscoveryEntries([
      subsys(30, target.port),
      { subtype: 1, subnqn: DISCOVERY_NQN, traddr: '127.0.0.1', trsvcid: String(other.port) },
      { subtype: 1, subnqn: DISCOVERY_NQN, traddr: '127.0.0.1', trsvcid: String(target.port) },
    ]);
    // the referred DC refers back to the first one: a cycle that must not grow
    other.setDiscoveryEntries([
      { subtype: 1, subnqn: DISCOVERY_NQN, traddr: '127.0.0.1', trsvcid: String(target.port) },
    ]);
    const refTid = dcTuple('127.0.0.1', String(other.port), rig.etc.hostnqn);
    await rig.waitSignal((s) => s.member === 'log_pages_changed' && s.body[2] === String(other.port), 8_000, since);
    const list = await rig.listControllers(true);
    assert.equal(list.length, 2);
    assert.equal(list.find((c) => c.trsvcid === String(other.port))!.origin, 'referral');
    assert.equal(list.find((c) => c.trsvcid === String(target.port))!.origin, 'configured');
    assert.equal((await rig.getLogPages(refTid)).length, 1);

    const since2 = Date.now();
    target.setDiscoveryEntries([subsys(31, target.port)]);
    await rig.waitSignal((s) => s.member === 'dc_removed', 5_000, since2);
    const after = await rig.listControllers(false);
    assert.deepEqual(
      after.map((c) => c.trsvcid),
      [String(target.port)],
    );
    assert.equal(rig.signals.filter((s) => s.member === 'dc_removed' && s.at >= since2).length, 1);
  } finally {
    await other.stop();
  }
});

test('SIGHUP adds and removes a DC; dhchap secrets never reach D-Bus, the log or the cache file', async () => {
  const other = await FakeTarget.start();
  try {
    // a valid key: the userspace host parses it (the fake target does not ask for authentication)
    const secret = formatDhchapSecret(generateDhchapSecret(0));
    rig.etc.write(
      'stafd.conf',
      conf(target.port) +
        `controller=transport=tcp;traddr=127.0.0.1;trsvcid=${other.port};kato=17;dhchap-secret=${secret}\n`,
    );
    const since = Date.now();
    rig.stafd.signal('SIGHUP');
    await rig.waitSignal((s) => s.member === 'log_pages_changed' && s.body[2] === String(other.port), 8_000, since);
    const list = await rig.listControllers(true);
    const added = list.find((c) => c.trsvcid === String(other.port))!;
    assert.equal(added.kato, '17');
    assert.ok(!('dhchap-secret' in added));
    assert.equal(other.stats.connects.at(-1)?.kato, 17_000, 'per-controller kato used as the session KATO');
    await rig.waitFor(
      'cache written',
      async () =>
        readFileSync(join(rig.etc.env.STATE_DIRECTORY!, 'last-known-config.json'), 'utf8').includes(String(other.port))
          ? true
          : undefined,
      3_000,
    );
    assert.ok(!readFileSync(join(rig.etc.env.STATE_DIRECTORY!, 'last-known-config.json'), 'utf8').includes(secret));
    assert.ok(!JSON.stringify(await rig.allLogPages(true)).includes(secret));
    assert.ok(!rig.stafd.output().includes(secret));

    rig.etc.write('stafd.conf', conf(target.port));
    const since2 = Date.now();
    rig.stafd.signal('SIGHUP');
    await rig.waitSignal((s) => s.member === 'dc_removed', 5_000, since2);
    assert.deepEqual(
      (await rig.listControllers(false)).map((c) => c.trsvcid),
      [String(target.port)],
    );
    await rig.waitFor('removed DC disconnected', async () => (other.connectionCount === 0 ? true : undefined), 3_000);
  } finally {
    await other.stop();
  }
});

// Runs late: the failed read leaves the discovery AEN masked until the 20 s retry reads with RAE=0 (as nvme-stas).
test('a DC that answers Get Log Page with an error status keeps its pages and the error is shown', async () => {
  const tid = dcTuple('127.0.0.1', String(target.port), rig.etc.hostnqn);
  const pagesBefore = await rig.getLogPages(tid);
  target.addFault({ opc: 0x02, action: 'status', sct: 0, sc: 0x06 });
  target.setDiscoveryEntries([...target.discoveryEntries]);
  const info = await rig.waitFor(
    'get log page operation with an error',
    async () => {
      const i = JSON.parse(
        (await rig.call('controller_info', 'sssssss', tid, 'org.nvmexpress.staf.debug'))[0] as string,
      ) as Record<string, string>;
      return /'fail count': 1/.test(i['get log page operation'] ?? '') ? i : undefined;
    },
    3_000,
  );
  assert.match(info['get log page operation']!, /'retry timer': '20\.0s \[/);
  assert.match(info['get log page operation']!, /'error': /);
  assert.deepEqual(await rig.getLogPages(tid), pagesBefore, 'the cached pages stay');
  await rig.stafd.waitForLog('Failed to retrieve log pages', 2_000);
});

test('restart with a warm cache: get_all_log_pages answers from the cache while the DC is unreachable', async () => {
  const tid = dcTuple('127.0.0.1', String(target.port), rig.etc.hostnqn);
  const pages = await rig.getLogPages(tid);
  assert.ok(pages.length > 0);
  await rig.stafd.stop();
  const port = target.port;
  await target.stop();
  await rig.restart();
  const all = await rig.allLogPages(true);
  assert.equal(all.length, 1);
  assert.equal(all[0]!['discovery-controller'].trsvcid, String(port));
  assert.notEqual(all[0]!['discovery-controller'].connected, 'True');
  assert.deepEqual(all[0]!['log-pages'], pages);
  assert.deepEqual(await rig.getLogPages(tid), pages);
});
