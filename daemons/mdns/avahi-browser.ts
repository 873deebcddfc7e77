// Browsing `_nvme-disc._tcp|udp` through avahi-daemon's D-Bus API, as nvme-stas does (spec §4.5).
// Availability follows the ownership of org.freedesktop.Avahi; browsers are created race-free with
// Server2.ServiceBrowserPrepare → subscribe → Start (avahi ≥ 0.8).
import {
  callMethod,
  getNameOwner,
  subscribeSignals,
  watchNameOwner,
  type Message,
  type MessageBus,
} from '../dbus/bus.js';
import { log } from '../common/log.js';
import { ifIndexToName } from './netif.js';
import { OneShotTimer, realClock, type Clock } from './timers.js';
import type { BrowserSink, IpProto, ServiceKey, ZeroconfBrowser } from './service.js';

export const AVAHI_BUS_NAME = 'org.freedesktop.Avahi';
const SERVER_IFACE = 'org.freedesktop.Avahi.Server';
const SERVER2_IFACE = 'org.freedesktop.Avahi.Server2';
const BROWSER_IFACE = 'org.freedesktop.Avahi.ServiceBrowser';

// avahi-common/address.h, defs.h
const IF_UNSPEC = -1;
const PROTO_INET = 0;
const PROTO_INET6 = 1;
const PROTO_UNSPEC = -1;
const LOOKUP_USE_MULTICAST = 2;

export const AVAHI_KICK_INTERVAL_MS = 60_000;
export const AVAHI_RESOLVE_TIMEOUT_MS = 10_000;
export const AVAHI_RESOLVE_ATTEMPTS = 3;
export const AVAHI_RESOLVE_RETRY_MS = 5_000;

export interface AvahiBrowserOptions {
  bus: MessageBus;
  serviceTypes: readonly string[];
  sink: BrowserSink;
  /** told whenever Avahi appears (true) or vanishes (false) on the bus, and once at start */
  onAvailability?: (available: boolean) => void;
  kickIntervalMs?: number;
  resolveTimeoutMs?: number;
  resolveAttempts?: number;
  resolveRetryMs?: number;
  callTimeoutMs?: number;
  clock?: Clock;
}

interface BrowserHandle {
  stype: string;
  path: string;
  unsubscribe: () => Promise<void>;
}

function protoName(p: number): IpProto {
  return p === PROTO_INET6 ? 'IPv6' : 'IPv4';
}

function keyId(iface: number, proto: number, name: string, stype: string, domain: string): string {
  return JSON.stringify([iface, proto, name, stype, domain]);
}

function errorText(e: unknown): string {
  if (e && typeof e === 'object' && 'type' in e && typeof (e as { type: unknown }).type === 'string') {
    const msg = (e as { text?: unknown }).text;
    return `${(e as { type: string }).type}${typeof msg === 'string' && msg ? `: ${msg}` : ''}`;
  }
  return e instanceof Error ? e.message : String(e);
}

export class AvahiBrowser implements ZeroconfBrowser {
  private available = false;
  /** unique bus name of the avahi-daemon our browsers live in ('' = none) */
  private owner = '';
  /** ownership changes are handled one at a time, in order (a quick restart is gone → new owner) */
  private ownerQueue: Promise<void> = Promise.resolve();
  private started = false;
  private stopped = false;
  private unwatch: (() => Promise<void>) | undefined;
  private browsers: BrowserHandle[] = [];
  /** services reported by ItemNew, keyed by Avahi's own tuple; value = generation (to drop stale resolves) */
  private services = new Map<string, { key: ServiceKey; gen: number; retry?: OneShotTimer }>();
  private generation = 0;
  /** bumps each time browsers are (re)created or dropped, so late replies of an old epoch are ignored */
  private epoch = 0;
  readonly kickTimer: OneShotTimer;
  private readonly clock: Clock;

  constructor(private readonly opts: AvahiBrowserOptions) {
    this.clock = opts.clock ?? realClock;
    this.kickTimer = new OneShotTimer(
      opts.kickIntervalMs ?? AVAHI_KICK_INTERVAL_MS,
      () => void this.kick(),
      this.clock,
    );
  }

  get isAvailable(): boolean {
    return this.available;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.unwatch = await watchNameOwner(this.opts.bus, AVAHI_BUS_NAME, (owner) => {
      this.ownerQueue = this.ownerQueue
        .then(() => this.onOwner(owner))
        .catch((e: unknown) => log().error(`Avahi availability change failed: ${errorText(e)}`));
    });
    await this.ownerQueue;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.kickTimer.stop();
    const unwatch = this.unwatch;
    this.unwatch = undefined;
    await unwatch?.().catch(() => undefined);
    await this.ownerQueue;
    await this.dropBrowsers();
  }

  private async onOwner(owner: string): Promise<void> {
    if (this.stopped) return;
    if (owner) {
      if (this.available && owner === this.owner) return;
      if (this.available) {
        // another daemon took the name over: our browsers died with the old one
        this.available = false;
        await this.dropBrowsers();
      }
      this.owner = owner;
      this.available = true;
      this.kickTimer.cancel();
      log().info('avahi-daemon service available, zeroconf supported.');
      this.opts.onAvailability?.(true);
      await this.createBrowsers();
    } else {
      const wasAvailable = this.available;
      this.available = false;
      this.owner = '';
      await this.dropBrowsers();
      if (this.stopped) return;
      if (wasAvailable || !this.kickTimer.armed) log().info('avahi-daemon not available, zeroconf not supported.');
      this.opts.onAvailability?.(false);
      this.kickTimer.start();
    }
  }

  /** Pokes avahi-daemon (D-Bus activation where configured); re-armed until Avahi answers. */
  private async kick(): Promise<void> {
    if (this.stopped || this.available) return;
    try {
      const [version] = await callMethod(
        this.opts.bus,
        { destination: AVAHI_BUS_NAME, path: '/', interface: SERVER_IFACE, member: 'GetVersionString' },
        this.opts.callTimeoutMs ?? 5_000,
      );
      log().debug(`avahi-daemon answered: ${String(version)}`);
      // it answers but we have no browsers (their creation failed): try again through the normal path
      const owner = await getNameOwner(this.opts.bus, AVAHI_BUS_NAME);
      if (owner && !this.available && !this.stopped) {
        this.ownerQueue = this.ownerQueue.then(() => this.onOwner(owner)).catch(() => undefined);
      } else if (!this.available && !this.stopped) this.kickTimer.start();
    } catch (e) {
      log().debug(`avahi-daemon kick: ${errorText(e)}`);
      if (!this.stopped && !this.available) this.kickTimer.start();
    }
  }

  private async createBrowsers(): Promise<void> {
    const epoch = ++this.epoch;
    const { bus } = this.opts;
    try {
      for (const stype of this.opts.serviceTypes) {
        const [path] = await callMethod(
          bus,
          {
            destination: AVAHI_BUS_NAME,
            path: '/',
            interface: SERVER2_IFACE,
            member: 'ServiceBrowserPrepare',
            signature: 'iissu',
            body: [IF_UNSPEC, PROTO_UNSPEC, stype, 'local', LOOKUP_USE_MULTICAST],
          },
          this.opts.callTimeoutMs,
        );
        if (typeof path !== 'string') throw new Error(`ServiceBrowserPrepare returned ${String(path)}`);
        // only the avahi-daemon that made the browser speaks for it
        const unsubscribe = await subscribeSignals(bus, { sender: this.owner, path, interface: BROWSER_IFACE }, (msg) =>
          this.onBrowserSignal(epoch, stype, msg),
        );
        if (epoch !== this.epoch) {
          await unsubscribe();
          return;
        }
        this.browsers.push({ stype, path, unsubscribe });
        await callMethod(
          bus,
          { destination: AVAHI_BUS_NAME, path, interface: BROWSER_IFACE, member: 'Start' },
          this.opts.callTimeoutMs,
        );
        log().debug(`Avahi service browser for ${stype} started (${path})`);
      }
    } catch (e) {
      if (epoch !== this.epoch || this.stopped) return;
      log().warn(`avahi-daemon not available, operating w/o mDNS discovery. (${errorText(e)})`);
      this.available = false;
      this.owner = '';
      await this.dropBrowsers();
      this.opts.onAvailability?.(false);
      this.kickTimer.start();
    }
  }

  private async dropBrowsers(): Promise<void> {
    this.epoch++;
    const browsers = this.browsers;
    this.browsers = [];
    for (const svc of this.services.values()) svc.retry?.stop();
    const hadServices = this.services.size > 0;
    this.services.clear();
    for (const b of browsers) {
      await b.unsubscribe().catch(() => undefined);
      // Free is best effort: Avahi may already be gone
      if (this.available) {
        await callMethod(
          this.opts.bus,
          { destination: AVAHI_BUS_NAME, path: b.path, interface: BROWSER_IFACE, member: 'Free' },
          2_000,
        ).catch(() => undefined);
      }
    }
    if (hadServices || browsers.length > 0) this.opts.sink.onReset();
  }

  private onBrowserSignal(epoch: number, stype: string, msg: Message): void {
    if (epoch !== this.epoch || this.stopped) return;
    const body = (msg.body ?? []) as unknown[];
    switch (msg.member) {
      case 'ItemNew':
      case 'ItemRemove': {
        const [iface, proto, name, type, domain] = body as [number, number, string, string, string];
        if (typeof iface !== 'number' || typeof name !== 'string') return;
        if (msg.member === 'ItemNew') this.onItemNew(epoch, iface, proto, name, type, domain);
        else this.onItemRemove(iface, proto, name, type, domain);
        return;
      }
      case 'Failed':
        log().error(`Avahi service browser for ${stype} failed: ${String(body[0])}`);
        return;
      default:
        log().debug(`Avahi service browser for ${stype}: ${msg.member ?? '?'}`);
    }
  }

  private onItemNew(epoch: number, iface: number, proto: number, name: string, stype: string, domain: string): void {
    const id = keyId(iface, proto, name, stype, domain);
    const ifname = ifIndexToName(iface) ?? String(iface);
    const key: ServiceKey = { ifname, proto: protoName(proto), name, stype, domain };
    const existing = this.services.get(id);
    existing?.retry?.stop();
    const entry = { key, gen: ++this.generation } as { key: ServiceKey; gen: number; retry?: OneShotTimer };
    this.services.set(id, entry);
    log().debug(`avahi ItemNew ${ifname} ${key.proto} ${name}.${domain} ${stype}`);
    this.opts.sink.onNew(key);
    void this.resolve(epoch, id, entry.gen, iface, proto, 1);
  }

  private onItemRemove(iface: number, proto: number, name: string, stype: string, domain: string): void {
    const id = keyId(iface, proto, name, stype, domain);
    const entry = this.services.get(id);
    if (!entry) return;
    entry.retry?.stop();
    this.services.delete(id);
    log().debug(`avahi ItemRemove ${entry.key.ifname} ${entry.key.proto} ${name}.${domain} ${stype}`);
    this.opts.sink.onRemoved(entry.key);
  }

  private async resolve(
    epoch: number,
    id: string,
    gen: number,
    iface: number,
    proto: number,
    attempt: number,
  ): Promise<void> {
    const entry = this.services.get(id);
    if (!entry || entry.gen !== gen) return;
    const { name, stype, domain } = entry.key;
    let reply: unknown[];
    try {
      // ResolveService(i interface, i protocol, s name, s type, s domain, i aprotocol, u flags)
      //   → (i interface, i protocol, s name, s type, s domain, s host, i aprotocol, s address, q port, aay txt, u flags)
      reply = await callMethod(
        this.opts.bus,
        {
          destination: AVAHI_BUS_NAME,
          path: '/',
          interface: SERVER_IFACE,
          member: 'ResolveService',
          signature: 'iisssiu',
          body: [iface, proto, name, stype, domain, PROTO_UNSPEC, 0],
        },
        this.opts.resolveTimeoutMs ?? AVAHI_RESOLVE_TIMEOUT_MS,
      );
    } catch (e) {
      const current = this.services.get(id);
      if (epoch !== this.epoch || this.stopped || !current || current.gen !== gen) return; // removed meanwhile: ignore
      const attempts = this.opts.resolveAttempts ?? AVAHI_RESOLVE_ATTEMPTS;
      log().error(
        `Avahi failed to resolve ${entry.key.ifname} ${entry.key.proto} ${name}.${domain} ${stype} (attempt ${attempt}/${attempts}): ${errorText(e)}`,
      );
      if (attempt < attempts) {
        current.retry = new OneShotTimer(
          this.opts.resolveRetryMs ?? AVAHI_RESOLVE_RETRY_MS,
          () => void this.resolve(epoch, id, gen, iface, proto, attempt + 1),
          this.clock,
        );
        current.retry.start();
      }
      return;
    }
    const current = this.services.get(id);
    if (epoch !== this.epoch || this.stopped || !current || current.gen !== gen) return;
    const address = reply[7];
    const port = reply[8];
    const txt = reply[9];
    if (typeof address !== 'string' || typeof port !== 'number' || !Array.isArray(txt)) {
      log().error(`Avahi returned a malformed ResolveService reply for ${name}.${domain} ${stype}`);
      return;
    }
    const records = txt.filter((r): r is Uint8Array => r instanceof Uint8Array);
    this.opts.sink.onResolved({ key: current.key, address, port, txt: records });
  }
}

export { PROTO_INET, PROTO_INET6 };
