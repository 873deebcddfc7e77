// The test LAN: a private network namespace (one per checkout) holding a bridge, onto which the target VM's second
// NIC (a tap) and any number of test namespaces (veth pairs) are plugged. Everything on it reaches everything else
// directly, multicast included — so the kernel target, an Avahi advertising it and stafd share one network, as on a
// real storage LAN, while nothing touches the host's own networks. QEMU user networking (the VM's first NIC) cannot
// give that: its forwards are host-loopback only and carry no multicast.
//
// Addresses: bridge 10.77.0.1/24, target VM 10.77.0.2, the default kernel-host VM ('host', the appliance of the
// two-VM tests) 10.77.0.3, a client VM 10.77.0.4 by convention; attached namespaces and VMs asking for any address
// 10.77.0.10-250 (allocated under a lock).
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killNetnsProcesses, sh } from '../netns/index.js';
import { acquireLock } from './lock.js';
import { repoRoot, vmStateRoot } from './paths.js';

export const LAN_PREFIX = '10.77.0';
export const LAN_BRIDGE_IP = `${LAN_PREFIX}.1`;
export const LAN_TARGET_IP = `${LAN_PREFIX}.2`;
/** the default kernel-host VM ('host') on the LAN: the appliance of the two-VM tests */
export const LAN_APPLIANCE_IP = `${LAN_PREFIX}.3`;
/** the conventional address of a second kernel-host VM (the client of the two-VM tests) */
export const LAN_CLIENT_IP = `${LAN_PREFIX}.4`;
const BRIDGE = 'lanbr0';

const checkoutTag = createHash('sha1').update(repoRoot).digest('hex').slice(0, 8);
/** The LAN's namespace: one per checkout, so two clones on one machine never share (or delete) each other's. */
export const lanNetns = `stas-lan-${checkoutTag}`;
/** The target VM's tap (≤ 15 characters); created in the root namespace for QEMU, then moved into the LAN. */
export const targetTapName = `stap${checkoutTag}`;

/** The tap of VM `name` (≤ 15 characters, unique per checkout and VM); the default target keeps its old name. */
export function vmTapName(name: string): string {
  if (name === 'target') return targetTapName;
  return `st${createHash('sha1').update(`${repoRoot}\0${name}`).digest('hex').slice(0, 11)}`;
}

const ip = (args: string[]): Promise<string> => sh('ip', args);

async function netnsExists(ns: string): Promise<boolean> {
  return (await ip(['netns', 'list'])).split('\n').some((l) => l.split(' ')[0] === ns);
}

/** Creates the LAN namespace and its bridge if missing (idempotent). */
export async function ensureLan(): Promise<string> {
  if (process.getuid?.() !== 0) throw new Error('the test LAN needs root (network namespaces, tap devices)');
  if (!(await netnsExists(lanNetns))) {
    await ip(['netns', 'add', lanNetns]);
    await ip(['-n', lanNetns, 'link', 'set', 'lo', 'up']);
    // no IGMP snooping: mDNS multicast is flooded to every port, as a plain switch would
    await ip(['-n', lanNetns, 'link', 'add', BRIDGE, 'type', 'bridge', 'mcast_snooping', '0']);
    await ip(['-n', lanNetns, 'addr', 'add', `${LAN_BRIDGE_IP}/24`, 'dev', BRIDGE]);
    await ip(['-n', lanNetns, 'link', 'set', BRIDGE, 'up']);
  }
  return lanNetns;
}

/** A fresh tap in the root namespace for QEMU to open (replacing a stale one of that name anywhere). */
export async function createTap(name: string): Promise<void> {
  await ensureLan();
  await ip(['link', 'del', name]).catch(() => undefined);
  await ip(['-n', lanNetns, 'link', 'del', name]).catch(() => undefined);
  await ip(['tuntap', 'add', 'dev', name, 'mode', 'tap']);
}

/** Moves the tap (already opened by QEMU) into the LAN and plugs it into the bridge. */
export async function plugTap(name: string): Promise<void> {
  await ip(['link', 'set', name, 'netns', lanNetns]);
  await ip(['-n', lanNetns, 'link', 'set', name, 'master', BRIDGE]);
  await ip(['-n', lanNetns, 'link', 'set', name, 'up']);
}

/** Brings a LAN port (the target's tap) down or up: the target drops off the network without being stopped. */
export async function setTapState(name: string, up: boolean): Promise<void> {
  await ip(['-n', lanNetns, 'link', 'set', name, up ? 'up' : 'down']);
}

/** Deletes the LAN namespace with everything plugged into it (call after the VM is stopped). */
export async function destroyLan(): Promise<void> {
  await ip(['netns', 'del', lanNetns]).catch(() => undefined);
  await ip(['link', 'del', targetTapName]).catch(() => undefined);
}

export interface LanHost {
  /** network namespace of this host (run things in it with `ip netns exec <ns> ...`) */
  ns: string;
  /** its interface on the LAN */
  ifname: string;
  address: string;
  /** plugs a further interface of this host into the LAN (a second path); returns its address */
  addInterface(ifname: string): Promise<string>;
  /** deletes the namespace (killing what runs in it) */
  destroy(): Promise<void>;
}

async function plugVeth(ns: string, ifname: string, address: string, port: string): Promise<void> {
  await ip(['-n', lanNetns, 'link', 'add', port, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns]);
  await ip(['-n', lanNetns, 'link', 'set', port, 'master', BRIDGE]);
  await ip(['-n', lanNetns, 'link', 'set', port, 'up']);
  await ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', ifname]);
  await ip(['-n', ns, 'link', 'set', ifname, 'multicast', 'on', 'up']);
}

/** An address for a VM that asked for "any" LAN address (same pool as the namespaces). */
export async function allocateLanAddress(): Promise<string> {
  return `${LAN_PREFIX}.${await allocateHostNumber()}`;
}

/** Allocates the next free host number 10..250 (cycling), under the VM state lock. */
async function allocateHostNumber(): Promise<number> {
  const file = join(vmStateRoot, 'lan-next-host');
  const release = await acquireLock(join(vmStateRoot, 'lan.lock'), 30_000);
  try {
    let n = 10;
    try {
      n = Number(readFileSync(file, 'utf8').trim()) || 10;
    } catch {
      /* first allocation */
    }
    const next = n >= 250 ? 10 : n + 1;
    writeFileSync(file, `${next}\n`);
    return n;
  } finally {
    release();
  }
}

/**
 * A new namespace plugged into the LAN through a veth pair (interface `lan0` inside), lo up, multicast routed to
 * the LAN. `label` (a-z0-9, ≤ 8) only makes the namespace name readable.
 */
export async function attachToLan(label: string): Promise<LanHost> {
  if (!/^[a-z0-9]{1,8}$/.test(label)) throw new Error(`attachToLan: bad label '${label}'`);
  await ensureLan();
  const n = await allocateHostNumber();
  const tag = randomBytes(2).toString('hex');
  const ns = `stas-${label}-${tag}`;
  const ifname = 'lan0';
  const port = `vl${tag}${n}`; // bridge side, in the LAN namespace
  const address = `${LAN_PREFIX}.${n}`;
  const ports = [port];
  const host: LanHost = {
    ns,
    ifname,
    address,
    async addInterface(name) {
      const m = await allocateHostNumber();
      const p = `vl${tag}${m}`;
      ports.push(p);
      await plugVeth(ns, name, `${LAN_PREFIX}.${m}`, p);
      return `${LAN_PREFIX}.${m}`;
    },
    async destroy() {
      await killNetnsProcesses(ns);
      await ip(['netns', 'del', ns]).catch(() => undefined);
      for (const p of ports) await ip(['-n', lanNetns, 'link', 'del', p]).catch(() => undefined);
    },
  };
  try {
    await ip(['netns', 'add', ns]);
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    await plugVeth(ns, ifname, address, port);
    // stands in for the default route a real host has (Avahi and the built-in browser need a multicast route)
    await ip(['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', ifname]);
  } catch (e) {
    await host.destroy();
    throw e;
  }
  return host;
}
