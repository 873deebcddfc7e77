// Built-in mDNS browser (bonjour-service) for hosts without avahi-daemon on the system bus.
// bonjour-service traps handled here (see the project's mDNS notes):
//  - one mDNS socket per multicast-capable IPv4 interface, `interface: <addr>` + `bind: '0.0.0.0'` (bound to the
//    interface address a socket receives no multicast at all);
//  - the library queries once and never refreshes: we re-query every `requeryMs`;
//  - it never expires by TTL by itself, and its own expire() uses the first-seen time (a live service would be
//    dropped after one TTL): we keep our own table, refreshed by every answer, and expire from it;
//  - instance names containing dots are mis-parsed: the name is taken from the fqdn;
//  - it does not say on which interface an answer came in (with IP_MULTICAST_ALL every socket sees every
//    interface's packets): the interface is found from the responder's address.
import { Bonjour, type Browser, type Service } from 'bonjour-service';
import { log } from '../common/log.js';
import { ifnameForAddress, multicastIpv4Interfaces } from './netif.js';
import { realClock, type Clock } from './timers.js';
import { splitServiceType, type BrowserSink, type ServiceKey, type ZeroconfBrowser } from './service.js';
import { isIPv4 } from 'node:net';

export const BONJOUR_REQUERY_MS = 30_000;
export const BONJOUR_EXPIRE_CHECK_MS = 5_000;

export interface BonjourBrowserOptions {
  serviceTypes: readonly string[];
  sink: BrowserSink;
  requeryMs?: number;
  expireCheckMs?: number;
  /** overrides every record's TTL (seconds) for expiry; tests */
  ttlOverrideSec?: number;
  clock?: Clock;
}

/** A Service as bonjour-service builds it at run time (rawTxt is set but not declared in its types). */
type BonjourService = Service & { rawTxt?: unknown };

interface Entry {
  key: ServiceKey;
  address: string;
  port: number;
  txtSig: string;
  lastSeen: number;
  ttlSec: number;
}

interface Socket {
  ifname: string;
  address: string;
  bonjour: Bonjour;
  /** per service type: the long-lived browser (announcements, goodbyes) */
  browsers: Browser[];
  /** per service type: the browser of the current re-query round */
  refreshers: Browser[];
}

function rawTxtRecords(raw: unknown): Uint8Array[] {
  if (raw instanceof Uint8Array) return [raw];
  if (Array.isArray(raw)) return raw.filter((r): r is Uint8Array => r instanceof Uint8Array);
  return [];
}

function txtSignature(records: Uint8Array[]): string {
  return records.map((r) => Buffer.from(r).toString('hex')).join(',');
}

export class BonjourBrowser implements ZeroconfBrowser {
  private sockets = new Map<string, Socket>();
  private table = new Map<string, Entry>();
  private requeryTimer: unknown;
  private expireTimer: unknown;
  private running = false;
  private readonly clock: Clock;

  constructor(private readonly opts: BonjourBrowserOptions) {
    this.clock = opts.clock ?? realClock;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    log().info('Using the built-in mDNS browser (no avahi-daemon on the system bus).');
    this.reconcileSockets();
    this.scheduleRequery();
    this.scheduleExpire();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.clock.clearTimeout(this.requeryTimer);
    this.clock.clearTimeout(this.expireTimer);
    for (const s of this.sockets.values()) this.closeSocket(s);
    this.sockets.clear();
    const had = this.table.size > 0;
    this.table.clear();
    if (had) this.opts.sink.onReset();
  }

  private scheduleRequery(): void {
    this.requeryTimer = this.clock.setTimeout(() => {
      if (!this.running) return;
      this.reconcileSockets();
      for (const s of this.sockets.values()) this.requery(s);
      this.scheduleRequery();
    }, this.opts.requeryMs ?? BONJOUR_REQUERY_MS);
  }

  private scheduleExpire(): void {
    this.expireTimer = this.clock.setTimeout(() => {
      if (!this.running) return;
      this.expire();
      this.scheduleExpire();
    }, this.opts.expireCheckMs ?? BONJOUR_EXPIRE_CHECK_MS);
  }

  /** One socket per multicast-capable IPv4 interface address; interfaces come and go. */
  private reconcileSockets(): void {
    const wanted = new Map(multicastIpv4Interfaces().map((i) => [`${i.ifname}/${i.address}`, i]));
    for (const [id, s] of this.sockets) {
      if (wanted.has(id)) continue;
      this.closeSocket(s);
      this.sockets.delete(id);
      for (const [k, e] of this.table) {
        if (e.key.ifname === s.ifname) {
          this.table.delete(k);
          this.opts.sink.onRemoved(e.key);
        }
      }
    }
    for (const [id, i] of wanted) {
      if (this.sockets.has(id)) continue;
      const bonjour = new Bonjour(
        { interface: i.address, bind: '0.0.0.0' } as unknown as ConstructorParameters<typeof Bonjour>[0],
        (err: unknown) =>
          log().warn(`mDNS socket on ${i.ifname} (${i.address}): ${err instanceof Error ? err.message : String(err)}`),
      );
      const s: Socket = { ifname: i.ifname, address: i.address, bonjour, browsers: [], refreshers: [] };
      for (const stype of this.opts.serviceTypes) {
        const t = splitServiceType(stype);
        if (!t) {
          log().error(`Invalid mDNS service type ${stype}`);
          continue;
        }
        const b = bonjour.find({ type: t.type, protocol: t.protocol });
        b.on('up', (svc) => this.seen(s, stype, svc));
        b.on('txt-update', (svc) => this.seen(s, stype, svc));
        b.on('srv-update', (svc) => this.seen(s, stype, svc));
        b.on('down', (svc) => this.gone(s, stype, svc));
        s.browsers.push(b);
      }
      this.sockets.set(id, s);
      log().debug(`mDNS browsing on ${i.ifname} (${i.address})`);
    }
  }

  /**
   * A fresh browser per round: its start() sends the PTR query and it reports 'up' for every answer, which is
   * what refreshes our table (the long-lived browser stays silent for services it already knows).
   */
  private requery(s: Socket): void {
    for (const r of s.refreshers) r.stop();
    s.refreshers = [];
    for (const stype of this.opts.serviceTypes) {
      const t = splitServiceType(stype);
      if (!t) continue;
      const r = s.bonjour.find({ type: t.type, protocol: t.protocol });
      r.on('up', (svc) => this.seen(s, stype, svc));
      s.refreshers.push(r);
    }
  }

  private closeSocket(s: Socket): void {
    for (const b of [...s.browsers, ...s.refreshers]) b.stop();
    s.bonjour.destroy();
  }

  /** Key and address of a bonjour Service, or undefined when it cannot be used. */
  private identify(s: Socket, stype: string, svc: BonjourService): { key: ServiceKey; address: string } | undefined {
    const suffix = `.${stype}.local`;
    const fqdn = svc.fqdn ?? '';
    const name = fqdn.toLowerCase().endsWith(suffix.toLowerCase())
      ? fqdn.slice(0, fqdn.length - suffix.length)
      : svc.name;
    const addresses = svc.addresses ?? [];
    const referer = svc.referer?.address;
    const ifname =
      (referer && ifnameForAddress(referer)) ?? addresses.map((a) => ifnameForAddress(a)).find((n) => n) ?? s.ifname;
    // the IPv4 address on the interface's subnet if there is one, else any IPv4, else the first (IPv6)
    const address =
      addresses.find((a) => isIPv4(a) && ifnameForAddress(a) === ifname) ??
      addresses.find((a) => isIPv4(a)) ??
      addresses[0] ??
      referer;
    if (!address) return undefined;
    return { key: { ifname, proto: 'IPv4', name, stype, domain: 'local' }, address };
  }

  private seen(s: Socket, stype: string, svc: BonjourService): void {
    if (!this.running) return;
    const id = this.identify(s, stype, svc);
    if (!id) {
      log().debug(`mDNS: ${svc.fqdn} has no address yet`);
      return;
    }
    const txt = rawTxtRecords(svc.rawTxt);
    const txtSig = txtSignature(txt);
    const k = JSON.stringify(id.key);
    const now = this.clock.now();
    const ttlSec = this.opts.ttlOverrideSec ?? svc.ttl ?? 4500;
    const prev = this.table.get(k);
    this.table.set(k, { key: id.key, address: id.address, port: svc.port, txtSig, lastSeen: now, ttlSec });
    if (prev && prev.address === id.address && prev.port === svc.port && prev.txtSig === txtSig) return;
    if (!prev) this.opts.sink.onNew(id.key);
    this.opts.sink.onResolved({ key: id.key, address: id.address, port: svc.port, txt });
  }

  private gone(s: Socket, stype: string, svc: BonjourService): void {
    if (!this.running) return;
    const id = this.identify(s, stype, svc);
    if (!id) return;
    const k = JSON.stringify(id.key);
    if (!this.table.delete(k)) return;
    this.opts.sink.onRemoved(id.key);
  }

  private expire(): void {
    const now = this.clock.now();
    for (const [k, e] of this.table) {
      if (e.lastSeen + e.ttlSec * 1000 >= now) continue;
      this.table.delete(k);
      log().debug(`mDNS: ${e.key.name} on ${e.key.ifname} expired (no answer for ${e.ttlSec} s)`);
      this.opts.sink.onRemoved(e.key);
    }
  }
}
