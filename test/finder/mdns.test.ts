// Zero-touch discovery end to end: in namespace A an avahi-daemon advertises _nvme-disc._tcp for a discovery
// controller (the fake target behind a relay on A's veth address); the real stafd runs in namespace B, finds it,
// connects and serves its log page (stafctl dlp --json with the interface name). Withdrawing the advertisement and
// stopping the target ages the DC out (zeroconf-connections-persistence) with dc_removed. Once with Avahi on the
// bus (org.freedesktop.Avahi, in B), once with the built-in browser (no Avahi on the bus).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createNetnsPair, type NetnsPair } from '../harness/netns/index.js';
import { startAvahi, serviceXml, type AvahiDaemon } from '../harness/avahi/index.js';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { startFinderRig, type FinderRig } from './rig.js';
import { startNetnsTarget, stopNetnsTarget } from './netns-target.js';

const tag = randomBytes(2).toString('hex');
const STYPE = '_nvme-disc._tcp';
const DISC = 'nqn.2014-08.org.nvmexpress.discovery';

let pair: NetnsPair;
let publisher: AvahiDaemon;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  pair = await createNetnsPair();
  cleanups.push(() => pair.destroy());
  publisher = await startAvahi({ ns: pair.a.ns, iface: pair.a.ifname, hostName: `stas-fpub-${tag}` });
  cleanups.push(() => publisher.stop());
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error('cleanup:', e));
});

async function scenario(variant: 'avahi' | 'builtin', port: number): Promise<void> {
  const nqn = `nqn.2024-01.io.example:mdns-${variant}-${tag}`;
  const bus: PrivateBus = await startPrivateBus();
  let avahiB: AvahiDaemon | undefined;
  let rig: FinderRig | undefined;
  let target: ChildProcess | undefined;
  const name = `stas finder ${variant} ${tag}`;
  try {
    if (variant === 'avahi') avahiB = await startAvahi({ ns: pair.b.ns, iface: pair.b.ifname, hostName: `stas-fhost-${tag}`, busAddress: bus.address });
    target = await startNetnsTarget(pair.a.ns, pair.a.address, port, nqn);
    publisher.addService(`finder-${variant}`, serviceXml({ name, stype: STYPE, port, txt: ['p=tcp', `nqn=${DISC}`] }));
    // bad input next to it: an unknown protocol and a record without "=" (ignored and counted, never fatal)
    publisher.addService(`finder-${variant}-bad`, serviceXml({ name: `${name} bad`, stype: STYPE, port: port + 1, txt: ['p=carrier-pigeon', 'junk'] }));
    rig = await startFinderRig({
      bus,
      wrap: ['ip', 'netns', 'exec', pair.b.ns],
      conf:
        '[Global]\n\n[Service Discovery]\nzeroconf=enabled\n\n' +
        '[Discovery controller connection management]\nzeroconf-connections-persistence=2 seconds\n',
    });
    const tid = ['tcp', pair.a.address, String(port), DISC, '', pair.b.ifname, rig.etc.hostnqn];
    const sig = await rig.waitSignal((s) => s.member === 'log_pages_changed' && s.body[1] === pair.a.address, 45_000);
    assert.deepEqual(sig.body.slice(0, 7), tid);
    const info = await rig.waitFor('bad TXT counted', async () => {
      const i = await rig!.processInfo();
      return (i['stas.malformed txt records'] as number) >= 1 ? i : undefined;
    }, 15_000);
    assert.equal(info['stas.avahi backend'], variant);
    const [dc] = await rig.listControllers(true);
    assert.equal(dc!.origin, 'discovered');
    assert.equal(dc!['host-iface'], pair.b.ifname);
    assert.equal(dc!['unresponsive timeout'], '2 sec');
    assert.equal(dc!['unresponsive time'], '---');

    const r = await rig.stafctl(['dlp', '-a', pair.a.address, '-s', String(port), '-f', pair.b.ifname, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const pages = JSON.parse(r.stdout) as Record<string, string>[];
    assert.ok(pages.some((p) => p.subnqn === nqn), `the target's subsystem in stafctl dlp: ${r.stdout}`);

    // withdraw the advertisement and stop the target: the DC ages out
    const since = Date.now();
    publisher.removeService(`finder-${variant}`);
    await stopNetnsTarget(target);
    target = undefined;
    await rig.waitSignal((s) => s.member === 'dc_removed', 60_000, since);
    assert.deepEqual(await rig.listControllers(false), []);
    assert.match(rig.stafd.output(), /Controller is not responding\. Will be removed by/);
  } finally {
    for (const f of [`finder-${variant}`, `finder-${variant}-bad`]) {
      try {
        publisher.removeService(f);
      } catch {
        // already withdrawn
      }
    }
    if (target) await stopNetnsTarget(target);
    await rig?.stop().catch((e: unknown) => console.error('stafd stop:', e));
    await avahiB?.stop();
    await bus.stop();
  }
}

test('mDNS via Avahi on the bus: found, connected, dlp served, aged out after withdrawal', { timeout: 180_000 }, async () => {
  await scenario('avahi', 21_000 + (randomBytes(2).readUInt16BE() % 9_000));
});

test('mDNS via the built-in browser (no Avahi on the bus): the same', { timeout: 180_000 }, async () => {
  await scenario('builtin', 31_000 + (randomBytes(2).readUInt16BE() % 9_000));
});
