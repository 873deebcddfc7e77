// Zeroconf discovery against real avahi-daemons in two network namespaces joined by veth:
//   namespace A: the "storage appliance": avahi-daemon (enable-dbus=no) advertising _nvme-disc._tcp from static
//                service files, and a TCP listener on the advertised port;
//   namespace B: the stafd side: ZeroconfSource in a child process, with or without avahi-daemon (enable-dbus=yes)
//                on a private bus.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { addLink, createNetnsPair, type NetnsPair } from '../harness/netns/index.js';
import { startAvahi, serviceXml, type AvahiDaemon } from '../harness/avahi/index.js';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { spawnTcpListener, spawnZeroconfChild, type ChildLine, type NetnsChild } from './netns-child.js';

const tag = randomBytes(2).toString('hex');
const PORT = 20_000 + (randomBytes(2).readUInt16BE() % 20_000);
const NQN = `nqn.2014-08.com.example:nvme:dc-${tag}`;
// a dot in the instance name: bonjour-service mis-parses it unless the name is taken from the fqdn
const GOOD = `NVMe DC v1.2 rack.7 ${tag}`;
const reEscape = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const STYPE = '_nvme-disc._tcp';

let pair: NetnsPair;
let bus: PrivateBus;
let publisher: AvahiDaemon;
const cleanups: (() => Promise<unknown>)[] = [];

interface Dc {
  transport: string;
  traddr: string;
  trsvcid: string;
  subsysnqn: string;
  hostIface: string;
}
interface InfoLine extends ChildLine {
  backend: string;
  info: { 'avahi wake up timer': string; 'service types': string[]; services: Record<string, Record<string, string>> };
  counters: { malformedTxtRecords: number; invalidProtocol: number };
}

const isChange = (pred: (dcs: Dc[]) => boolean) => (l: ChildLine) => l.ev === 'change' && pred(l.dcs as Dc[]);
const isInfo = (pred: (i: InfoLine) => boolean) => (l: ChildLine) => l.ev === 'info' && pred(l as InfoLine);

function expectedDc(): Dc {
  return { transport: 'tcp', traddr: pair.a.address, trsvcid: String(PORT), subsysnqn: NQN, hostIface: pair.b.ifname };
}

function goodKey(): string {
  return `(${pair.b.ifname}, IPv4, ${GOOD}.local, ${STYPE})`;
}

/** The advertised services: one good, two with a bad/missing p= (must be ignored and counted). */
function publishAll(d: AvahiDaemon): void {
  const txt = ['p=tcp', `NQN=${NQN}`, 'junk-without-equal', { key: 'bin', hex: '0107ff7f' }, `big=${'x'.repeat(240)}`];
  d.addService('good', serviceXml({ name: GOOD, stype: STYPE, port: PORT, txt }));
  d.addService(
    'bogus',
    serviceXml({ name: `Bogus ${tag}`, stype: STYPE, port: PORT + 1, txt: ['p=bogus', `nqn=${NQN}`] }),
  );
  d.addService('nop', serviceXml({ name: `NoP ${tag}`, stype: STYPE, port: PORT + 2, txt: [`nqn=${NQN}`] }));
}

async function checkMalformedCounted(child: NetnsChild): Promise<void> {
  // both bad services resolved and rejected with nvme-stas's error text; the junk and binary records counted
  await child.waitFor(
    isInfo((i) => i.counters.invalidProtocol >= 2 && i.counters.malformedTxtRecords >= 2),
    20_000,
    'bad services counted',
  );
  const err = child.stderr();
  // (Avahi hands TXT records over in reverse order of the service file; bonjour-service in file order)
  const ip = pair.a.address.replace(/\./g, '\\.');
  assert.match(
    err,
    new RegExp(
      `Received invalid/undefined protocol in mDNS TXT field: address=${ip}, iface=${pair.b.ifname}, TXT=\\{[^}]*'p': 'bogus'`,
    ),
  );
  assert.match(
    err,
    new RegExp(
      `Received invalid/undefined protocol in mDNS TXT field: address=${ip}, iface=${pair.b.ifname}, TXT=\\{'nqn': '${NQN}'\\}`,
    ),
  );
  const last = [...child.lines].reverse().find((l) => l.ev === 'change');
  assert.deepEqual(last?.dcs, [expectedDc()], 'only the good service is reported');
}

before(async () => {
  pair = await createNetnsPair();
  cleanups.push(() => pair.destroy());
  bus = await startPrivateBus();
  cleanups.push(() => bus.stop());
  publisher = await startAvahi({ ns: pair.a.ns, iface: pair.a.ifname, hostName: `stas-pub-${tag}` });
  cleanups.push(() => publisher.stop());
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error('cleanup:', e));
});

test('(a) Avahi over D-Bus: finds the DC once reachable, ignores bad TXT, sees ItemRemove; clean stop', async (t) => {
  const avahiB = await startAvahi({
    ns: pair.b.ns,
    iface: pair.b.ifname,
    hostName: `stas-host-${tag}`,
    busAddress: bus.address,
  });
  t.after(() => avahiB.stop());
  publishAll(publisher);
  await publisher.waitForLog(new RegExp(`Service "${reEscape(GOOD)}" .* successfully established`), 10_000);

  const child = spawnZeroconfChild(pair.b.ns, {
    busAddress: bus.address,
    kernelSupportsDiscovery: true,
    retryMs: [500],
    infoEveryMs: 200,
  });
  t.after(() => child.stop());
  await child.waitFor((l) => l.ev === 'backend' && l.backend === 'avahi', 10_000, 'avahi backend');
  assert.match(child.stderr(), /avahi-daemon service available, zeroconf supported\./);

  // resolved but nothing listens yet: known, not reachable, not reported
  await child.waitFor(
    isInfo((i) => i.info.services[goodKey()]?.reachable === 'False'),
    20_000,
    'unreachable good service in info',
  );
  assert.equal(child.lines.filter((l) => l.ev === 'change' && (l.dcs as Dc[]).length > 0).length, 0);
  assert.match(
    child.stderr(),
    new RegExp(
      `Unable to verify TCP connectivity - \\(${pair.b.ifname}, ${pair.a.address.replace(/\./g, '\\.')}, ${PORT}\\)`,
    ),
  );

  const listener = await spawnTcpListener(pair.a.ns, pair.a.address, PORT);
  t.after(() => listener.stop());
  await child.waitFor(
    isChange((dcs) => dcs.length === 1),
    10_000,
    'reachable DC',
  );
  const change = [...child.lines].reverse().find((l) => l.ev === 'change');
  assert.deepEqual(change?.dcs, [expectedDc()]);

  const info = (await child.waitFor(
    isInfo((i) => i.info.services[goodKey()]?.reachable === 'True'),
    5_000,
    'info with reachable',
  )) as InfoLine;
  assert.deepEqual(info.info.services[goodKey()], {
    transport: 'tcp',
    traddr: pair.a.address,
    trsvcid: String(PORT),
    'host-iface': pair.b.ifname,
    subsysnqn: NQN,
    reachable: 'True',
  });
  assert.deepEqual(info.info['service types'], ['_nvme-disc._udp', '_nvme-disc._tcp']);
  assert.equal(info.info['avahi wake up timer'], '60.0s [off]');
  await checkMalformedCounted(child);

  // withdraw the advertisement: Avahi says goodbye, the browser gets ItemRemove, the DC leaves the list
  const mark = child.lines.length;
  publisher.removeService('good');
  await child.waitFor(
    isChange((dcs) => dcs.length === 0),
    10_000,
    'DC gone after withdrawal',
    mark,
  );
  assert.match(child.stderr(), new RegExp(`avahi ItemRemove ${pair.b.ifname} IPv4 ${reEscape(GOOD)}\\.local`));
  const after = (await child.waitFor(
    isInfo(() => true),
    2_000,
    'info',
    child.lines.length,
  )) as InfoLine;
  assert.equal(after.info.services[goodKey()], undefined);

  assert.equal(await child.stop(), true, 'child exits by itself after stop (no timer or socket left behind)');
  await child.waitFor((l) => l.ev === 'stopped', 1_000, 'stopped line');
});

test('(b) no Avahi on the bus: the built-in browser finds the DC, ignores bad TXT, sees the goodbye; clean stop', async (t) => {
  publishAll(publisher);
  const listener = await spawnTcpListener(pair.a.ns, pair.a.address, PORT);
  t.after(() => listener.stop());
  const child = spawnZeroconfChild(pair.b.ns, {
    busAddress: bus.address,
    kernelSupportsDiscovery: true,
    retryMs: [500],
    bonjourRequeryMs: 1_000,
    infoEveryMs: 200,
  });
  t.after(() => child.stop());
  await child.waitFor((l) => l.ev === 'backend' && l.backend === 'builtin', 10_000, 'builtin backend');
  assert.match(child.stderr(), /avahi-daemon not available, zeroconf not supported\./);
  await child.waitFor(
    isChange((dcs) => dcs.length === 1),
    20_000,
    'reachable DC',
  );
  const change = [...child.lines].reverse().find((l) => l.ev === 'change');
  assert.deepEqual(change?.dcs, [expectedDc()]);
  const info = (await child.waitFor(
    isInfo((i) => i.info.services[goodKey()]?.reachable === 'True'),
    5_000,
    'info',
  )) as InfoLine;
  assert.match(
    info.info['avahi wake up timer'],
    /^60\.0s \[\d+(\.\d+)?s\]$/,
    'the kick timer runs while Avahi is absent',
  );
  await checkMalformedCounted(child);

  const mark = child.lines.length;
  publisher.removeService('good');
  await child.waitFor(
    isChange((dcs) => dcs.length === 0),
    10_000,
    'DC gone after goodbye',
    mark,
  );
  assert.equal(await child.stop(), true, 'child exits by itself after stop');
});

test('(b2) nqn= is ignored when the kernel lacks the discovery option; Avahi kick timer runs', async (t) => {
  publishAll(publisher);
  const listener = await spawnTcpListener(pair.a.ns, pair.a.address, PORT);
  t.after(() => listener.stop());
  const child = spawnZeroconfChild(pair.b.ns, {
    busAddress: bus.address,
    kernelSupportsDiscovery: false,
    retryMs: [500],
    bonjourRequeryMs: 1_000,
    kickIntervalMs: 400,
  });
  t.after(() => child.stop());
  await child.waitFor(
    isChange((dcs) => dcs.length === 1),
    20_000,
    'reachable DC',
  );
  const change = [...child.lines].reverse().find((l) => l.ev === 'change');
  assert.deepEqual(change?.dcs, [{ ...expectedDc(), subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery' }]);
  // while Avahi is absent the kick timer keeps calling GetVersionString (injected 0.4 s interval)
  await child.waitFor(
    () => (child.stderr().match(/avahi-daemon kick: org\.freedesktop\.DBus\.Error\.ServiceUnknown/g) ?? []).length >= 2,
    5_000,
    'two kicks',
  );
  const info = (await child.waitFor(
    isInfo(() => true),
    2_000,
    'info',
    child.lines.length,
  )) as InfoLine;
  assert.match(info.info['avahi wake up timer'], /^0\.4s \[(0|0\.\d+)s\]$/);
  assert.equal(await child.stop(), true);
});

test('switching: Avahi leaves the bus → built-in browser; Avahi returns → Avahi again', async (t) => {
  publishAll(publisher);
  const listener = await spawnTcpListener(pair.a.ns, pair.a.address, PORT);
  t.after(() => listener.stop());
  let avahiB = await startAvahi({
    ns: pair.b.ns,
    iface: pair.b.ifname,
    hostName: `stas-host-${tag}`,
    busAddress: bus.address,
  });
  t.after(() => avahiB.stop());
  const child = spawnZeroconfChild(pair.b.ns, { busAddress: bus.address, retryMs: [500], bonjourRequeryMs: 1_000 });
  t.after(() => child.stop());
  await child.waitFor((l) => l.ev === 'backend' && l.backend === 'avahi', 10_000, 'avahi backend');
  await child.waitFor(
    isChange((dcs) => dcs.length === 1),
    20_000,
    'DC via avahi',
  );

  let mark = child.lines.length;
  await avahiB.stop();
  await child.waitFor((l) => l.ev === 'backend' && l.backend === 'builtin', 10_000, 'switch to builtin', mark);
  await child.waitFor(
    isChange((dcs) => dcs.length === 1),
    20_000,
    'DC via builtin',
    mark,
  );

  mark = child.lines.length;
  avahiB = await startAvahi({
    ns: pair.b.ns,
    iface: pair.b.ifname,
    hostName: `stas-host-${tag}`,
    busAddress: bus.address,
  });
  await child.waitFor((l) => l.ev === 'backend' && l.backend === 'avahi', 10_000, 'switch back to avahi', mark);
  await child.waitFor(
    isInfo((i) => i.backend === 'avahi' && i.info.services[goodKey()]?.reachable === 'True'),
    20_000,
    'DC via avahi again',
    mark,
  );
  const last = [...child.lines].reverse().find((l) => l.ev === 'change');
  assert.deepEqual(last?.dcs, [expectedDc()]);
  assert.equal(await child.stop(), true);
});

test('zeroconf disabled: no service types, nothing browsed', async (t) => {
  const child = spawnZeroconfChild(pair.b.ns, { serviceTypes: [] });
  t.after(() => child.stop());
  const info = (await child.waitFor(
    isInfo(() => true),
    5_000,
    'info',
  )) as InfoLine;
  assert.deepEqual(info.info['service types'], []);
  assert.deepEqual(info.info.services, {});
  assert.equal(info.backend, 'none');
  assert.equal(await child.stop(), true);
});

test('(b3) built-in browser: a live service is refreshed by re-queries, a vanished one (no goodbye) expires by TTL', async (t) => {
  publishAll(publisher);
  const listener = await spawnTcpListener(pair.a.ns, pair.a.address, PORT);
  t.after(() => listener.stop());
  const child = spawnZeroconfChild(pair.b.ns, {
    retryMs: [500],
    bonjourRequeryMs: 1_000,
    bonjourExpireCheckMs: 250,
    bonjourTtlOverrideSec: 3,
  });
  t.after(() => child.stop());
  await child.waitFor(
    isChange((dcs) => dcs.length === 1),
    20_000,
    'reachable DC',
  );
  const mark = child.lines.length;
  // two TTLs without a change: the re-queries keep it alive (bonjour-service's own expire() would drop it)
  await new Promise((r) => setTimeout(r, 6_500));
  assert.deepEqual(
    child.lines.slice(mark).filter((l) => l.ev === 'change'),
    [],
    'no flapping while the publisher answers',
  );
  await publisher.crash();
  const t0 = Date.now();
  await child.waitFor(
    isChange((dcs) => dcs.length === 0),
    10_000,
    'DC expired after the publisher vanished',
    mark,
  );
  assert.ok(Date.now() - t0 >= 1_500, 'removed by expiry, not by a goodbye');
  assert.equal(await child.stop(), true);
  // later tests (if any) get a fresh publisher
  publisher = await startAvahi({ ns: pair.a.ns, iface: pair.a.ifname, hostName: `stas-pub2-${tag}` });
  cleanups.push(() => publisher.stop());
});

test('same IP address behind two interfaces: warned, and reported once per interface', async (t) => {
  // A has its address on two links to B; Avahi in A answers on both with that same address
  const extraB = pair.b.address.replace(/\.2$/, '.3');
  const link = await addLink(pair, pair.a.address, extraB);
  await publisher.stop();
  const pub = await startAvahi({ ns: pair.a.ns, iface: `${pair.a.ifname},${link.ifA}`, hostName: `stas-dup-${tag}` });
  t.after(() => pub.stop());
  publishAll(pub);
  const avahiB = await startAvahi({
    ns: pair.b.ns,
    iface: `${pair.b.ifname},${link.ifB}`,
    hostName: `stas-host-${tag}`,
    busAddress: bus.address,
  });
  t.after(() => avahiB.stop());
  const listener = await spawnTcpListener(pair.a.ns, '0.0.0.0', PORT);
  t.after(() => listener.stop());
  const child = spawnZeroconfChild(pair.b.ns, { busAddress: bus.address, retryMs: [500] });
  t.after(() => child.stop());
  await child.waitFor(
    isInfo((i) => Object.keys(i.info.services).filter((k) => k.includes(GOOD)).length === 2),
    20_000,
    'the service on both interfaces',
  );
  const ifaces = [pair.b.ifname, link.ifB];
  await child.waitFor(
    () =>
      new RegExp(
        `IP address ${reEscape(pair.a.address)} was found on multiple interfaces: (${ifaces.join(',')}|${[...ifaces].reverse().join(',')})`,
      ).test(child.stderr()),
    5_000,
    'duplicate-address warning',
  );
  assert.equal(await child.stop(), true);
});
