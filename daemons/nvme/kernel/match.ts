// Does an existing kernel controller correspond to the controller stas wants (nvme-stas §4.8)? Pure, so the whole
// rule table is unit-tested; the only outside knowledge (which interface owns which address) is passed in.
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { KernelController } from './sysfs.js';

export const WELL_KNOWN_DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

/** What stas wants: the TID fields (host-nqn already defaulted to the sys.conf host NQN). */
export interface MatchCandidate {
  transport: string;
  traddr: string;
  trsvcid: string;
  subsysnqn: string;
  hostTraddr: string;
  hostIface: string;
  hostNqn: string;
}

/**
 * What the kernel device says: udev NVME_TRTYPE/TRADDR/TRSVCID/HOST_TRADDR/HOST_IFACE ('none' → ''), sysfs
 * subsysnqn and hostnqn, and src_addr from sysfs `address` ('' on kernels before 6.1).
 */
export interface DeviceConnection {
  transport: string;
  traddr: string;
  trsvcid: string;
  subsysnqn: string;
  hostTraddr: string;
  hostIface: string;
  hostNqn: string;
  srcAddr: string;
}

export interface InterfaceInfo {
  /** Interface that owns this local address, if any. */
  ifaceOfAddress(addr: string): string | undefined;
  /** Primary (first) address of the interface, if any. */
  primaryAddressOf(iface: string): string | undefined;
}

/** 8 groups of 16 bits, or undefined if not an IPv6 literal. Zone ids (%eth0) are dropped. */
function ipv6Groups(s: string): number[] | undefined {
  let a = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  a = a.split('%')[0] ?? '';
  if (isIP(a) !== 6) return undefined;
  // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (v4) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number) as [number, number, number, number];
    a = `${a.slice(0, v4.index)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? (a.split('::') as [string, string]) : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  const groups = [...h, ...fill, ...t].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * Canonical text of an IP address (IPv4-mapped IPv6 → IPv4; IPv6 lower-case, uncompressed), or undefined if the
 * string is not an IP literal.
 */
export function canonicalIp(s: string): string | undefined {
  const t = s.trim();
  if (isIP(t) === 4)
    return t
      .split('.')
      .map((o) => String(Number(o)))
      .join('.');
  const g = ipv6Groups(t);
  if (!g) return undefined;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
  }
  return g.map((x) => x.toString(16)).join(':');
}

/** IP equality as nvme-stas does it (ipaddress objects); non-IP strings compare exactly. */
export function ipEqual(a: string, b: string): boolean {
  const ca = canonicalIp(a);
  const cb = canonicalIp(b);
  if (ca === undefined || cb === undefined) return a === b;
  return ca === cb;
}

/** Interface knowledge of this host, from os.networkInterfaces() at call time. */
export function hostInterfaces(): InterfaceInfo {
  const ifs = networkInterfaces();
  return {
    ifaceOfAddress(addr: string): string | undefined {
      for (const [name, list] of Object.entries(ifs)) {
        if (list?.some((i) => ipEqual(i.address, addr))) return name;
      }
      return undefined;
    },
    primaryAddressOf(iface: string): string | undefined {
      return ifs[iface]?.[0]?.address;
    },
  };
}

function tcpHostMatches(c: MatchCandidate, d: DeviceConnection, ifs: InterfaceInfo): boolean {
  if (!c.hostTraddr && !c.hostIface) return true;
  if (d.srcAddr) {
    // kernel ≥ 6.1 tells the real source address: the candidate must agree with it
    if (c.hostTraddr && !ipEqual(c.hostTraddr, d.srcAddr)) return false;
    if (c.hostIface && c.hostIface !== ifs.ifaceOfAddress(d.srcAddr)) return false;
    return true;
  }
  // legacy kernels: compare with what the connection was asked for; no information on either side → optimistic
  if (c.hostTraddr) {
    if (d.hostTraddr) {
      if (!ipEqual(c.hostTraddr, d.hostTraddr)) return false;
    } else if (d.hostIface) {
      const primary = ifs.primaryAddressOf(d.hostIface);
      if (primary === undefined || !ipEqual(c.hostTraddr, primary)) return false;
    }
  }
  if (c.hostIface) {
    if (d.hostIface) {
      if (c.hostIface !== d.hostIface) return false;
    } else if (d.hostTraddr) {
      if (c.hostIface !== ifs.ifaceOfAddress(d.hostTraddr)) return false;
    }
  }
  return true;
}

/** nvme-stas §4.8 match rules. */
export function connectionMatches(
  c: MatchCandidate,
  d: DeviceConnection,
  ifs: InterfaceInfo = hostInterfaces(),
): boolean {
  if (c.transport !== d.transport || c.trsvcid !== d.trsvcid || c.hostNqn !== d.hostNqn) return false;
  if (c.subsysnqn !== WELL_KNOWN_DISCOVERY_NQN && c.subsysnqn !== d.subsysnqn) return false;
  switch (c.transport) {
    case 'tcp':
      return ipEqual(c.traddr, d.traddr) && tcpHostMatches(c, d, ifs);
    case 'rdma':
      if (!ipEqual(c.traddr, d.traddr)) return false;
      return !c.hostTraddr || ipEqual(c.hostTraddr, d.hostTraddr);
    case 'fc':
      return (
        c.traddr.toLowerCase() === d.traddr.toLowerCase() &&
        !!c.hostTraddr &&
        c.hostTraddr.toLowerCase() === d.hostTraddr.toLowerCase()
      );
    default: // loop and anything else
      return c.traddr.toLowerCase() === d.traddr.toLowerCase();
  }
}

/**
 * The connection id of a kernel device: udev properties when given (NVME_TRTYPE, NVME_TRADDR, NVME_TRSVCID,
 * NVME_HOST_TRADDR, NVME_HOST_IFACE; 'none' → ''), else sysfs transport/address; subsysnqn, hostnqn and src_addr
 * always from sysfs.
 */
export function connectionOf(c: KernelController, udevProps?: Readonly<Record<string, string>>): DeviceConnection {
  const p = (k: string, fallback: string): string => {
    const v = udevProps?.[k];
    return v === undefined ? fallback : v === 'none' ? '' : v;
  };
  return {
    transport: p('NVME_TRTYPE', c.transport),
    traddr: p('NVME_TRADDR', c.address.traddr),
    trsvcid: p('NVME_TRSVCID', c.address.trsvcid),
    hostTraddr: p('NVME_HOST_TRADDR', c.address.hostTraddr),
    hostIface: p('NVME_HOST_IFACE', c.address.hostIface),
    subsysnqn: c.subsysnqn,
    hostNqn: c.hostnqn,
    srcAddr: c.address.srcAddr,
  };
}
