// Local network interfaces: index ↔ name (Avahi reports indexes), flags, and which interface an address is on.
// Linux: /sys/class/net (per network namespace: `ip netns exec` remounts /sys) plus os.networkInterfaces().
import { readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { isIPv4, isIPv6 } from 'node:net';

const IFF_UP = 0x1;
const IFF_MULTICAST = 0x1000;

const SYS_NET = '/sys/class/net';

function readSys(ifname: string, attr: string): string | undefined {
  try {
    return readFileSync(`${SYS_NET}/${ifname}/${attr}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Interface name for a kernel interface index (Avahi's `interface` argument), or undefined. */
export function ifIndexToName(index: number): string | undefined {
  let names: string[];
  try {
    names = readdirSync(SYS_NET);
  } catch {
    return undefined;
  }
  for (const name of names) if (Number(readSys(name, 'ifindex')) === index) return name;
  return undefined;
}

function ifFlags(ifname: string): number {
  const f = readSys(ifname, 'flags');
  return f === undefined ? 0 : Number.parseInt(f, 16) || 0;
}

export interface LocalIpv4 {
  ifname: string;
  address: string;
  cidr: string;
}

/**
 * IPv4 addresses of interfaces that are up and multicast-capable (what Avahi itself would use; this
 * includes `lo` only when someone set its MULTICAST flag, as Avahi does).
 */
export function multicastIpv4Interfaces(): LocalIpv4[] {
  const out: LocalIpv4[] = [];
  for (const [ifname, infos] of Object.entries(networkInterfaces())) {
    const flags = ifFlags(ifname);
    if (!(flags & IFF_UP) || !(flags & IFF_MULTICAST)) continue;
    for (const info of infos ?? []) {
      if (info.family === 'IPv4' && info.cidr) out.push({ ifname, address: info.address, cidr: info.cidr });
    }
  }
  return out;
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
}

function ipv6ToBigInt(a: string): bigint {
  const [head, tail] = a.split('%')[0]!.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  // an embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups
  const expand = (groups: string[]): string[] =>
    groups.flatMap((g) => {
      if (!g.includes('.')) return [g];
      const n = ipv4ToInt(g);
      return [(n >>> 16).toString(16), (n & 0xffff).toString(16)];
    });
  const hh = expand(h);
  const tt = expand(t);
  const groups = tail === undefined ? hh : [...hh, ...Array<string>(8 - hh.length - tt.length).fill('0'), ...tt];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(Number.parseInt(g || '0', 16)), 0n);
}

function inSubnet(address: string, info: NetworkInterfaceInfo): boolean {
  if (!info.cidr) return false;
  const prefix = Number(info.cidr.split('/')[1]);
  if (info.family === 'IPv4' && isIPv4(address)) {
    if (prefix === 0) return true;
    const mask = prefix >= 32 ? 0xffffffff : ~((1 << (32 - prefix)) - 1) >>> 0;
    return (ipv4ToInt(address) & mask) >>> 0 === (ipv4ToInt(info.address) & mask) >>> 0;
  }
  if (info.family === 'IPv6' && isIPv6(address.split('%')[0]!)) {
    const shift = BigInt(128 - prefix);
    return ipv6ToBigInt(address) >> shift === ipv6ToBigInt(info.address) >> shift;
  }
  return false;
}

/** The local interface whose subnet contains `address` (first match, non-internal first), or undefined. */
export function ifnameForAddress(address: string): string | undefined {
  const addr = unmapIpv4(address);
  const scoped = addr.split('%')[1];
  if (scoped) return scoped;
  const entries = Object.entries(networkInterfaces());
  for (const internal of [false, true]) {
    for (const [ifname, infos] of entries) {
      for (const info of infos ?? []) if (info.internal === internal && inSubnet(addr, info)) return ifname;
    }
  }
  return undefined;
}

/** A local address of `ifname` in the given family (used as the source address: Node cannot SO_BINDTODEVICE). */
export function localAddressOn(ifname: string, family: 'IPv4' | 'IPv6', preferLinkLocal = false): string | undefined {
  const infos = networkInterfaces()[ifname] ?? [];
  const candidates = infos.filter((i) => i.family === family);
  if (family === 'IPv6') {
    const ll = candidates.find((i) => i.address.toLowerCase().startsWith('fe80:'));
    const global = candidates.find((i) => !i.address.toLowerCase().startsWith('fe80:'));
    const pick = preferLinkLocal ? (ll ?? global) : (global ?? ll);
    return pick && (pick === ll ? `${pick.address}%${ifname}` : pick.address);
  }
  return candidates[0]?.address;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; anything else unchanged. */
export function unmapIpv4(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

export function isLinkLocalIpv6(address: string): boolean {
  return isIPv6(address.split('%')[0]!) && address.toLowerCase().startsWith('fe80:');
}
