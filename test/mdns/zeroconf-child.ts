// Runs a ZeroconfSource inside a test network namespace and prints JSON lines on stdout:
//   {"ev":"backend","backend":...}  {"ev":"change","dcs":[...]}  {"ev":"info","info":{...},"counters":{...}}  {"ev":"stopped"}
// Logs (pino, debug) go to stderr. Options: JSON in STAS_MDNS_CHILD_OPTS. SIGTERM → clean stop; the process must
// then exit by itself (proves every timer and socket was released).
import { initLog } from '../../daemons/common/log.js';
import { callMethod, connectSystemBus, type MessageBus } from '../../daemons/dbus/bus.js';
import { ZeroconfSource, type ZeroconfSourceOptions } from '../../daemons/mdns/index.js';

interface ChildOpts {
  busAddress?: string;
  kernelSupportsDiscovery?: boolean;
  serviceTypes?: string[];
  bonjourRequeryMs?: number;
  bonjourExpireCheckMs?: number;
  bonjourTtlOverrideSec?: number;
  kickIntervalMs?: number;
  retryMs?: number[];
  infoEveryMs?: number;
}

const opts = JSON.parse(process.env.STAS_MDNS_CHILD_OPTS ?? '{}') as ChildOpts;
initLog({ name: 'mdns-child', tron: true, destination: 2 });
const out = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');

let bus: MessageBus | undefined;
if (opts.busAddress) {
  process.env.DBUS_SYSTEM_BUS_ADDRESS = opts.busAddress;
  bus = connectSystemBus();
  bus.on('error', (e: unknown) => out({ ev: 'bus-error', error: String(e) }));
  // (org.freedesktop.DBus.Peer.Ping is denied by the system-bus default policy; GetId is allowed)
  await callMethod(
    bus,
    {
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'GetId',
    },
    5_000,
  );
}

const sourceOpts: ZeroconfSourceOptions = {
  kernelSupportsDiscovery: opts.kernelSupportsDiscovery ?? true,
  ...(bus ? { bus } : {}),
  ...(opts.serviceTypes ? { serviceTypes: opts.serviceTypes } : {}),
  ...(opts.bonjourRequeryMs ? { bonjourRequeryMs: opts.bonjourRequeryMs } : {}),
  ...(opts.bonjourExpireCheckMs ? { bonjourExpireCheckMs: opts.bonjourExpireCheckMs } : {}),
  ...(opts.bonjourTtlOverrideSec ? { bonjourTtlOverrideSec: opts.bonjourTtlOverrideSec } : {}),
  ...(opts.kickIntervalMs ? { kickIntervalMs: opts.kickIntervalMs } : {}),
  ...(opts.retryMs ? { reachability: { retryMs: opts.retryMs, connectTimeoutMs: 2_000 } } : {}),
};
const source = new ZeroconfSource(sourceOpts);
source.on('backend', (backend) => out({ ev: 'backend', backend }));
source.on('change', (dcs) => out({ ev: 'change', dcs }));
const printInfo = (): void =>
  out({ ev: 'info', backend: source.backend, info: source.info(), counters: source.errorCounters() });
const infoTimer = setInterval(printInfo, opts.infoEveryMs ?? 300);
await source.start();
out({ ev: 'started', backend: source.backend });

process.once('SIGTERM', () => {
  void (async () => {
    clearInterval(infoTimer);
    await source.stop();
    printInfo();
    bus?.disconnect();
    out({ ev: 'stopped' });
  })();
});
