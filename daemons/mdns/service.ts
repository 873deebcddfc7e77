// What a browser (Avahi over D-Bus, or the built-in bonjour-service one) reports to the zeroconf source.

export type IpProto = 'IPv4' | 'IPv6';

/** Identity of a browsed service, as Avahi keys it: (interface, protocol, name, type, domain). */
export interface ServiceKey {
  ifname: string;
  proto: IpProto;
  name: string;
  stype: string;
  domain: string;
}

/** nvme-stas's process_info key: `(<ifname>, IPv4|IPv6, <name>.<domain>, <stype>)`. */
export function serviceKeyString(k: ServiceKey): string {
  return `(${k.ifname}, ${k.proto}, ${k.name}.${k.domain}, ${k.stype})`;
}

export interface ResolvedService {
  key: ServiceKey;
  /** as resolved; may be IPv6 or IPv4-mapped */
  address: string;
  port: number;
  /** raw TXT records */
  txt: Uint8Array[];
}

/** Callbacks a browser drives. */
export interface BrowserSink {
  /** a service appeared (not resolved yet) */
  onNew(key: ServiceKey): void;
  /** resolved (or re-resolved with new data) */
  onResolved(svc: ResolvedService): void;
  onRemoved(key: ServiceKey): void;
  /** every service this browser reported is gone (browser stopped, daemon vanished) */
  onReset(): void;
}

export interface ZeroconfBrowser {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** `_nvme-disc._tcp` → { type: 'nvme-disc', protocol: 'tcp' } */
export function splitServiceType(stype: string): { type: string; protocol: 'tcp' | 'udp' } | undefined {
  const m = /^_([^.]+)\._(tcp|udp)$/.exec(stype);
  return m ? { type: m[1]!, protocol: m[2] as 'tcp' | 'udp' } : undefined;
}

export const DEFAULT_SERVICE_TYPES: readonly string[] = ['_nvme-disc._tcp', '_nvme-disc._udp'];
