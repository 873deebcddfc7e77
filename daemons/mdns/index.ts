// stafd's zeroconf (TP8009) discovery source: mDNS-advertised discovery controllers, reachable ones only.
// Avahi over D-Bus when org.freedesktop.Avahi is on the bus (as nvme-stas), else the built-in bonjour-service
// browser; switches when Avahi comes and goes.
import { EventEmitter } from 'node:events';
import { log } from '../common/log.js';
import type { MessageBus } from '../dbus/bus.js';
import { AvahiBrowser, AVAHI_KICK_INTERVAL_MS } from './avahi-browser.js';
import { BonjourBrowser } from './bonjour-browser.js';
import { ReachabilityChecker, type ReachabilityOptions } from './reachability.js';
import {
  DEFAULT_SERVICE_TYPES,
  serviceKeyString,
  type BrowserSink,
  type ResolvedService,
  type ServiceKey,
} from './service.js';
import { interpretTxt, type ZeroconfTransport } from './txt.js';
import { OneShotTimer, realClock, type Clock } from './timers.js';
import { unmapIpv4 } from './netif.js';

export { WELL_KNOWN_DISC_NQN, parseTxtRecords, protocolToTransport } from './txt.js';
export { DEFAULT_SERVICE_TYPES, serviceKeyString } from './service.js';
export type { ServiceKey } from './service.js';

/** A discovery controller found by mDNS and verified reachable. */
export interface ZeroconfDc {
  transport: ZeroconfTransport;
  traddr: string;
  trsvcid: string;
  subsysnqn: string;
  /** interface name for tcp, '' for rdma */
  hostIface: string;
}

/** One service as process_info shows it (empty until resolved). Keys and order as nvme-stas. */
export type ZeroconfServiceInfo =
  | Record<string, never>
  | {
      transport: string;
      traddr: string;
      trsvcid: string;
      'host-iface': string;
      subsysnqn: string;
      reachable: 'True' | 'False';
    };

/** The `avahi` object of stafd's process_info (spec §1.8). */
export interface ZeroconfInfo {
  'avahi wake up timer': string;
  'service types': string[];
  services: Record<string, ZeroconfServiceInfo>;
}

export interface ZeroconfCounters {
  /** TXT records ignored (non-printable, not exactly one '=', empty key) */
  malformedTxtRecords: number;
  /** services ignored because p= was missing or not tcp/roce/iwarp/rdma */
  invalidProtocol: number;
}

export interface ZeroconfSourceOptions {
  /** the system bus; without one only the built-in browser is used */
  bus?: MessageBus;
  /** service types to browse; [] (zeroconf=disabled) browses nothing */
  serviceTypes?: readonly string[];
  /** kernel supports the `discovery` connect option (TP8013): honour `nqn=` */
  kernelSupportsDiscovery: boolean;
  /** false: never fall back to the built-in browser */
  builtinFallback?: boolean;
  kickIntervalMs?: number;
  resolveTimeoutMs?: number;
  bonjourRequeryMs?: number;
  bonjourExpireCheckMs?: number;
  bonjourTtlOverrideSec?: number;
  reachability?: ReachabilityOptions;
  clock?: Clock;
}

export type ZeroconfBackend = 'avahi' | 'builtin' | 'none';

export interface ZeroconfSourceEvents {
  /** the set of reachable DCs changed (full current list) */
  change: [dcs: ZeroconfDc[]];
  /** the browser in use changed */
  backend: [backend: ZeroconfBackend];
}

interface TrackedService {
  key: ServiceKey;
  data?: { transport: ZeroconfTransport; traddr: string; trsvcid: string; hostIface: string; subsysnqn: string };
  checker?: ReachabilityChecker;
}

export class ZeroconfSource extends EventEmitter<ZeroconfSourceEvents> {
  private readonly services = new Map<string, TrackedService>();
  private readonly serviceTypes: readonly string[];
  private readonly counters: ZeroconfCounters = { malformedTxtRecords: 0, invalidProtocol: 0 };
  private avahi: AvahiBrowser | undefined;
  private builtin: BonjourBrowser | undefined;
  private _backend: ZeroconfBackend = 'none';
  private lastEmitted = '[]';
  private stopped = false;
  /** shown when there is no Avahi browser at all (no bus): an idle timer, as nvme-stas shows before it first kicks */
  private readonly idleKickTimer: OneShotTimer;
  /** serialises backend switches */
  private switching: Promise<void> = Promise.resolve();

  constructor(private readonly opts: ZeroconfSourceOptions) {
    super();
    this.serviceTypes = opts.serviceTypes ?? DEFAULT_SERVICE_TYPES;
    this.idleKickTimer = new OneShotTimer(
      opts.kickIntervalMs ?? AVAHI_KICK_INTERVAL_MS,
      () => undefined,
      opts.clock ?? realClock,
    );
  }

  get backend(): ZeroconfBackend {
    return this._backend;
  }

  async start(): Promise<void> {
    if (this.serviceTypes.length === 0) {
      log().info('zeroconf disabled: not browsing mDNS');
      return;
    }
    if (this.opts.bus) {
      this.avahi = new AvahiBrowser({
        bus: this.opts.bus,
        serviceTypes: this.serviceTypes,
        sink: this.sinkFor('avahi'),
        onAvailability: (up) => this.switchTo(up ? 'avahi' : 'builtin'),
        ...(this.opts.kickIntervalMs !== undefined ? { kickIntervalMs: this.opts.kickIntervalMs } : {}),
        ...(this.opts.resolveTimeoutMs !== undefined ? { resolveTimeoutMs: this.opts.resolveTimeoutMs } : {}),
        ...(this.opts.clock ? { clock: this.opts.clock } : {}),
      });
      await this.avahi.start();
    } else {
      this.switchTo('builtin');
    }
    await this.switching;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.switching;
    await this.avahi?.stop();
    await this.builtin?.stop();
    this.idleKickTimer.stop();
    for (const s of this.services.values()) s.checker?.stop();
    this.services.clear();
    this._backend = 'none';
  }

  /** Reachable DCs, in discovery order, each once (a DC may be seen over IPv4 and IPv6 mDNS, or by both browsers). */
  controllers(): ZeroconfDc[] {
    const out = new Map<string, ZeroconfDc>();
    for (const s of this.services.values()) {
      if (!s.data || !s.checker?.reachable) continue;
      const d = s.data;
      out.set(JSON.stringify([d.transport, d.traddr, d.trsvcid, d.subsysnqn, d.hostIface]), { ...d });
    }
    return [...out.values()];
  }

  /** The `avahi` object of process_info. */
  info(): ZeroconfInfo {
    const services: Record<string, ZeroconfServiceInfo> = {};
    for (const s of this.services.values()) {
      services[serviceKeyString(s.key)] = s.data
        ? {
            transport: s.data.transport,
            traddr: s.data.traddr,
            trsvcid: s.data.trsvcid,
            'host-iface': s.data.hostIface,
            subsysnqn: s.data.subsysnqn,
            reachable: s.checker?.reachable ? 'True' : 'False',
          }
        : {};
    }
    const kick = this.avahi?.kickTimer ?? this.idleKickTimer;
    // nvme-stas keeps its types in a Python set: the order it shows is udp first
    const types = [...this.serviceTypes].sort().reverse();
    return { 'avahi wake up timer': kick.toString(), 'service types': types, services };
  }

  /** Error counts for diagnostics (not part of nvme-stas's process_info). */
  errorCounters(): ZeroconfCounters {
    return { ...this.counters };
  }

  private switchTo(backend: 'avahi' | 'builtin'): void {
    this.switching = this.switching.then(async () => {
      if (this.stopped) return;
      if (backend === 'avahi') {
        if (this.builtin) {
          const b = this.builtin;
          this.builtin = undefined;
          await b.stop();
        }
        this.setBackend('avahi');
      } else {
        if (this.opts.builtinFallback === false) {
          this.setBackend('none');
          return;
        }
        if (!this.builtin) {
          this.builtin = new BonjourBrowser({
            serviceTypes: this.serviceTypes,
            sink: this.sinkFor('builtin'),
            ...(this.opts.bonjourRequeryMs !== undefined ? { requeryMs: this.opts.bonjourRequeryMs } : {}),
            ...(this.opts.bonjourExpireCheckMs !== undefined ? { expireCheckMs: this.opts.bonjourExpireCheckMs } : {}),
            ...(this.opts.bonjourTtlOverrideSec !== undefined
              ? { ttlOverrideSec: this.opts.bonjourTtlOverrideSec }
              : {}),
            ...(this.opts.clock ? { clock: this.opts.clock } : {}),
          });
          await this.builtin.start();
        }
        this.setBackend('builtin');
      }
    });
    this.switching = this.switching.catch((e: unknown) =>
      log().error(`zeroconf: switching browser failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  private setBackend(b: ZeroconfBackend): void {
    if (this._backend === b) return;
    this._backend = b;
    this.emit('backend', b);
  }

  /** Events of a browser are only honoured while that browser is the one in use (or being torn down). */
  private sinkFor(source: 'avahi' | 'builtin'): BrowserSink {
    const mine = (key: ServiceKey): string => `${source}|${JSON.stringify(key)}`;
    return {
      onNew: (key) => {
        if (this.stopped) return;
        if (!this.services.has(mine(key))) this.services.set(mine(key), { key });
      },
      onResolved: (svc) => {
        if (!this.stopped) this.identified(mine(svc.key), svc);
      },
      onRemoved: (key) => {
        const s = this.services.get(mine(key));
        if (!s) return;
        s.checker?.stop();
        this.services.delete(mine(key));
        this.changed();
      },
      onReset: () => {
        let any = false;
        for (const [id, s] of this.services) {
          if (!id.startsWith(`${source}|`)) continue;
          s.checker?.stop();
          this.services.delete(id);
          any = true;
        }
        if (any) this.changed();
      },
    };
  }

  private identified(id: string, svc: ResolvedService): void {
    const { key } = svc;
    const traddr = unmapIpv4(svc.address.trim());
    const verdict = interpretTxt(svc.txt, {
      address: traddr,
      ifname: key.ifname,
      kernelSupportsDiscovery: this.opts.kernelSupportsDiscovery,
    });
    this.counters.malformedTxtRecords += verdict.badRecords;
    const prev = this.services.get(id);
    prev?.checker?.stop();
    if (!verdict.ok) {
      this.counters.invalidProtocol++;
      this.services.set(id, { key });
      this.changed();
      return;
    }
    const { transport, subsysnqn } = verdict.identity;
    const data = {
      transport,
      traddr,
      trsvcid: String(svc.port),
      hostIface: transport === 'tcp' ? key.ifname : '',
      subsysnqn,
    };
    const tracked: TrackedService = { key, data };
    this.services.set(id, tracked);
    log().debug(`mDNS identified ${serviceKeyString(key)}: ${JSON.stringify(data)}`);
    this.warnDuplicateAddresses();
    if (transport === 'rdma') {
      // nvme-stas only probes tcp; rdma services count as reachable at once
      tracked.checker = new ReachabilityChecker(
        { address: traddr, port: svc.port, ifname: key.ifname },
        () => this.changed(),
        {
          probe: async () => undefined,
        },
      );
    } else {
      tracked.checker = new ReachabilityChecker(
        { address: traddr, port: svc.port, ifname: key.ifname },
        () => this.changed(),
        {
          ...this.opts.reachability,
          ...(this.opts.clock && !this.opts.reachability?.clock ? { clock: this.opts.clock } : {}),
        },
      );
    }
    tracked.checker.start();
    this.changed();
  }

  private warnDuplicateAddresses(): void {
    const byAddr = new Map<string, Set<string>>();
    for (const s of this.services.values()) {
      if (!s.data) continue;
      const set = byAddr.get(s.data.traddr) ?? new Set<string>();
      set.add(s.key.ifname);
      byAddr.set(s.data.traddr, set);
    }
    for (const [ip, ifaces] of byAddr) {
      if (ifaces.size > 1) log().warn(`IP address ${ip} was found on multiple interfaces: ${[...ifaces].join(',')}`);
    }
  }

  private changed(): void {
    if (this.stopped) return;
    const list = this.controllers();
    const text = JSON.stringify(list);
    if (text === this.lastEmitted) return;
    this.lastEmitted = text;
    this.emit('change', list);
  }
}
