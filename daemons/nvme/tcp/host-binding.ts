// host-traddr / host-iface for the userspace host: the local address a connection is made from. The kernel binds
// its socket to the interface (SO_BINDTODEVICE); Node has no such call, so host-iface becomes "the address of that
// interface in the target's family", which picks the source address (and, with per-interface routes or policy
// routing, the egress interface). host-traddr is taken as given, after checking that this host owns it.
import { isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

export interface HostBinding {
  hostTraddr?: string;
  hostIface?: string;
  /** the target address: its family picks the interface address */
  traddr: string;
}

export class HostBindingError extends Error {
  override readonly name = 'HostBindingError';
}

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

/** The local address to connect from, or undefined for "let routing choose"; throws HostBindingError on a bad option. */
export function localAddressFor(b: HostBinding, ifaces: Interfaces = networkInterfaces()): string | undefined {
  const family = isIP(b.traddr) === 6 ? 'IPv6' : 'IPv4';
  if (b.hostTraddr) {
    if (isIP(b.hostTraddr) === 0) throw new HostBindingError(`host-traddr ${b.hostTraddr} is not an IP address`);
    const owned = Object.values(ifaces).some((l) => l?.some((a) => a.address === b.hostTraddr));
    if (!owned) throw new HostBindingError(`host-traddr ${b.hostTraddr} is not an address of this host`);
    if (b.hostIface) {
      const onIface = ifaces[b.hostIface]?.some((a) => a.address === b.hostTraddr) ?? false;
      if (!onIface) throw new HostBindingError(`host-traddr ${b.hostTraddr} is not on host-iface ${b.hostIface}`);
    }
    return b.hostTraddr;
  }
  if (b.hostIface) {
    const list = ifaces[b.hostIface];
    if (!list) throw new HostBindingError(`host-iface ${b.hostIface}: no such interface`);
    // a link-local IPv6 address would need a scope; prefer a global one
    const usable = list.filter((a) => a.family === family && !(family === 'IPv6' && a.address.startsWith('fe80:')));
    const addr = usable[0]?.address;
    if (!addr)
      throw new HostBindingError(`host-iface ${b.hostIface} has no ${family} address to connect to ${b.traddr} from`);
    return addr;
  }
  return undefined;
}
