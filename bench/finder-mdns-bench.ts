// Zero-touch latency: time from an mDNS announcement (a static Avahi service file appearing in namespace A) to the
// DC's log page on D-Bus (log_pages_changed from the real stafd in namespace B), with Avahi on the bus and with
// the built-in browser. Needs root (network namespaces) and avahi-daemon.
import { randomBytes } from 'node:crypto';
import { createNetnsPair } from '../test/harness/netns/index.js';
import { startAvahi, serviceXml, type AvahiDaemon } from '../test/harness/avahi/index.js';
import { startPrivateBus } from '../test/harness/bus.js';
import { startFinderRig } from '../test/finder/rig.js';
import { startNetnsTarget, stopNetnsTarget } from '../test/finder/netns-target.js';

const ROUNDS = Number(process.env.FINDER_MDNS_BENCH_ROUNDS ?? 3);

export async function run(): Promise<void> {
  const tag = randomBytes(2).toString('hex');
  const pair = await createNetnsPair();
  try {
    const publisher = await startAvahi({ ns: pair.a.ns, iface: pair.a.ifname, hostName: `stas-bpub-${tag}` });
    try {
      for (const variant of ['avahi', 'builtin'] as const) {
        const bus = await startPrivateBus();
        let avahiB: AvahiDaemon | undefined;
        try {
          if (variant === 'avahi')
            avahiB = await startAvahi({
              ns: pair.b.ns,
              iface: pair.b.ifname,
              hostName: `stas-bhost-${tag}`,
              busAddress: bus.address,
            });
          const rig = await startFinderRig({
            bus,
            wrap: ['ip', 'netns', 'exec', pair.b.ns],
            conf: '[Global]\n[Service Discovery]\nzeroconf=enabled\n[Discovery controller connection management]\nzeroconf-connections-persistence=1 seconds\n',
          });
          const times: number[] = [];
          try {
            for (let i = 0; i < ROUNDS; i++) {
              const port = 40_000 + (randomBytes(2).readUInt16BE() % 20_000);
              const target = await startNetnsTarget(
                pair.a.ns,
                pair.a.address,
                port,
                `nqn.2024-01.io.example:bench-${tag}-${i}`,
              );
              try {
                const t0 = Date.now();
                publisher.addService(
                  `bench-${i}`,
                  serviceXml({ name: `stas bench ${tag} ${i}`, stype: '_nvme-disc._tcp', port, txt: ['p=tcp'] }),
                );
                const sig = await rig.waitSignal(
                  (s) => s.member === 'log_pages_changed' && s.body[2] === String(port),
                  60_000,
                  t0,
                );
                times.push(sig.at - t0);
                const since = Date.now();
                publisher.removeService(`bench-${i}`);
                await stopNetnsTarget(target);
                await rig.waitSignal((s) => s.member === 'dc_removed', 60_000, since);
              } finally {
                await stopNetnsTarget(target);
              }
            }
          } finally {
            await rig.stop();
          }
          const sorted = [...times].sort((a, b) => a - b);
          console.log(
            `mDNS announcement -> log page on D-Bus (${variant === 'avahi' ? 'Avahi over D-Bus' : 'built-in browser'}): ` +
              `min ${sorted[0]} ms, median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms over ${times.length} rounds ` +
              '(includes the TCP reachability probe and the 1.5 s configuration soak)',
          );
        } finally {
          await avahiB?.stop();
          await bus.stop();
        }
      }
    } finally {
      await publisher.stop();
    }
  } finally {
    await pair.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
