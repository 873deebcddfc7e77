// Zero-touch discovery end to end, against the Linux kernel target: the target VM sits on the test LAN
// (test/harness/target-vm/lan.ts); in namespace A on that LAN an avahi-daemon advertises _nvme-disc._tcp for the
// target's discovery port (a static host record names the target, which runs no mDNS responder of its own); the
// real stafd runs in namespace B on the same LAN, finds it, connects and serves its log page (stafctl dlp --json
// with the interface name). Withdrawing the advertisement and taking the target off the LAN ages the DC out
// (zeroconf-connections-persistence) with dc_removed. Once with Avahi on the bus (org.freedesktop.Avahi, in B),
// once with the built-in browser (no Avahi on the bus).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startAvahi, serviceXml, type AvahiDaemon } from '../harness/avahi/index.js';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { attachToLan, ensureTargetVm, type LanHost, type TargetVm } from '../harness/target-vm/index.js';
import { startFinderRig, type FinderRig } from './rig.js';

const tag = randomBytes(2).toString('hex');
const STYPE = '_nvme-disc._tcp';
const DISC = 'nqn.2014-08.org.nvmexpress.discovery';
const targetHost = `nvmet-${tag}.local`;

let vm: TargetVm;
let pub: LanHost;
let finder: LanHost;
let publisher: AvahiDaemon;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  vm = await ensureTargetVm();
  pub = await attachToLan('mpub');
  cleanups.push(() => pub.destroy());
  finder = await attachToLan('mfind');
  cleanups.push(() => finder.destroy());
  publisher = await startAvahi({
    ns: pub.ns,
    iface: pub.ifname,
    hostName: `stas-fpub-${tag}`,
    hosts: { [targetHost]: vm.lan.address },
  });
  cleanups.push(() => publisher.stop());
});

after(async () => {
  await vm?.setLanLink(true).catch(() => undefined);
  for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error('cleanup:', e));
});

async function scenario(variant: 'avahi' | 'builtin'): Promise<void> {
  const bus: PrivateBus = await startPrivateBus();
  let avahiB: AvahiDaemon | undefined;
  let rig: FinderRig | undefined;
  const name = `stas finder ${variant} ${tag}`;
  try {
    if (variant === 'avahi')
      avahiB = await startAvahi({
        ns: finder.ns,
        iface: finder.ifname,
        hostName: `stas-fhost-${tag}`,
        busAddress: bus.address,
      });
    publisher.addService(
      `finder-${variant}`,
      serviceXml({ name, stype: STYPE, port: 8009, hostName: targetHost, txt: ['p=tcp', `nqn=${DISC}`] }),
    );
    // bad input next to it: an unknown protocol and a record without "=" (ignored and counted, never fatal)
    publisher.addService(
      `finder-${variant}-bad`,
      serviceXml({
        name: `${name} bad`,
        stype: STYPE,
        port: 8010,
        hostName: targetHost,
        txt: ['p=carrier-pigeon', 'junk'],
      }),
    );
    rig = await startFinderRig({
      bus,
      wrap: ['ip', 'netns', 'exec', finder.ns],
      conf:
        // kato: the target is later taken off the LAN without a word; the keep-alive notices within seconds
        '[Global]\nkato=6\n\n[Service Discovery]\nzeroconf=enabled\n\n' +
        '[Discovery controller connection management]\nzeroconf-connections-persistence=2 seconds\n',
    });
    const tid = ['tcp', vm.lan.address, '8009', DISC, '', finder.ifname, rig.etc.hostnqn];
    const sig = await rig.waitSignal((s) => s.member === 'log_pages_changed' && s.body[1] === vm.lan.address, 60_000);
    assert.deepEqual(sig.body.slice(0, 7), tid);
    const info = await rig.waitFor(
      'bad TXT counted',
      async () => {
        const i = await rig!.processInfo();
        return (i['stas.malformed txt records'] as number) >= 1 ? i : undefined;
      },
      15_000,
    );
    assert.equal(info['stas.avahi backend'], variant);
    const [dc] = await rig.listControllers(true);
    assert.equal(dc!.origin, 'discovered');
    assert.equal(dc!['host-iface'], finder.ifname);
    assert.equal(dc!['unresponsive timeout'], '2 sec');
    assert.equal(dc!['unresponsive time'], '---');

    // the kernel target's own log page, read over the LAN: every subsystem, at the target's LAN address
    const r = await rig.stafctl(['dlp', '-a', vm.lan.address, '-s', '8009', '-f', finder.ifname, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const pages = JSON.parse(r.stdout) as Record<string, string>[];
    for (const nqn of vm.defaultSubsystems) {
      assert.ok(
        pages.some((p) => p.subnqn === nqn && p.traddr === vm.lan.address && p.subtype === 'nvme'),
        `${nqn} in stafctl dlp: ${r.stdout}`,
      );
    }

    // withdraw the advertisement and take the target off the LAN: the DC ages out
    const since = Date.now();
    publisher.removeService(`finder-${variant}`);
    await vm.setLanLink(false);
    await rig.waitSignal((s) => s.member === 'dc_removed', 90_000, since);
    assert.deepEqual(await rig.listControllers(false), []);
    assert.match(rig.stafd.output(), /Controller is not responding\. Will be removed by/);
  } finally {
    await vm.setLanLink(true).catch((e: unknown) => console.error('LAN link up:', e));
    for (const f of [`finder-${variant}`, `finder-${variant}-bad`]) {
      try {
        publisher.removeService(f);
      } catch {
        // already withdrawn
      }
    }
    await rig?.stop().catch((e: unknown) => console.error('stafd stop:', e));
    await avahiB?.stop();
    await bus.stop();
  }
}

test(
  'mDNS via Avahi on the bus: the kernel target found, connected, dlp served, aged out after withdrawal',
  { timeout: 240_000 },
  async () => {
    await scenario('avahi');
  },
);

test('mDNS via the built-in browser (no Avahi on the bus): the same', { timeout: 240_000 }, async () => {
  await scenario('builtin');
});
