// Parser for `udevadm monitor --kernel --property` (and --udev) output. Blocks are separated by blank lines:
//
//   KERNEL[123.456789] change   /devices/virtual/nvme-fabrics/ctl/nvme0 (nvme)
//   ACTION=change
//   DEVPATH=/devices/virtual/nvme-fabrics/ctl/nvme0
//   SUBSYSTEM=nvme
//   NVME_AEN=0x70f002
//   ...
//
// Fed with arbitrary chunks of stdout; returns complete events as they finish. Lines it does not understand (the
// "monitor will print…" banner, garbage) are skipped, never thrown on.

export interface Uevent {
  /** 'KERNEL' (raw kernel uevent) or 'UDEV' (after udevd processed it). */
  source: 'KERNEL' | 'UDEV';
  /** Monotonic timestamp printed by udevadm, seconds. */
  timestamp: number;
  action: string;
  devpath: string;
  subsystem: string;
  /** KEY=value lines of the block (ACTION, DEVPATH, SUBSYSTEM, DEVNAME, NVME_AEN, NVME_EVENT, NVME_TRTYPE, …). */
  properties: Record<string, string>;
}

const HEADER = /^(KERNEL|UDEV)\s*\[(\d+(?:\.\d+)?)\]\s+(\S+)\s+(\S+)\s+\(([^)]*)\)\s*$/;
const PROPERTY = /^([A-Za-z0-9_.]+)=(.*)$/;

export class UeventParser {
  private partial = '';
  private current: Uevent | undefined;
  /** The banner line has been seen: udevadm is subscribed and will not miss events from now on. */
  bannerSeen = false;

  /** Feeds a chunk of text; returns the events completed by it. */
  push(chunk: string): Uevent[] {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    const out: Uevent[] = [];
    for (const raw of lines) this.line(raw.replace(/\r$/, ''), out);
    return out;
  }

  /** End of input: returns the event still open, if any. */
  flush(): Uevent[] {
    const out: Uevent[] = [];
    if (this.partial) this.line(this.partial, out);
    this.partial = '';
    this.finish(out);
    return out;
  }

  private finish(out: Uevent[]): void {
    if (this.current) out.push(this.current);
    this.current = undefined;
  }

  private line(l: string, out: Uevent[]): void {
    if (l.trim() === '') {
      this.finish(out);
      return;
    }
    if (l.startsWith('monitor will print')) {
      this.bannerSeen = true;
      return;
    }
    const h = HEADER.exec(l);
    if (h) {
      this.finish(out); // a header without a blank line before it still starts a new event
      this.current = {
        source: h[1] as 'KERNEL' | 'UDEV',
        timestamp: Number(h[2]),
        action: h[3]!,
        devpath: h[4]!,
        subsystem: h[5]!,
        properties: {},
      };
      return;
    }
    const p = PROPERTY.exec(l);
    if (p && this.current) {
      this.current.properties[p[1]!] = p[2]!;
      if (p[1] === 'ACTION') this.current.action = p[2]!;
      else if (p[1] === 'DEVPATH') this.current.devpath = p[2]!;
      else if (p[1] === 'SUBSYSTEM') this.current.subsystem = p[2]!;
    }
  }
}

/** The kernel device name of an event (`nvme0` from DEVNAME=/dev/nvme0 or the DEVPATH tail). */
export function ueventDeviceName(e: Uevent): string {
  const dn = e.properties['DEVNAME'];
  if (dn) return dn.replace(/^\/dev\//, '');
  return e.devpath.split('/').pop() ?? '';
}

/** Discovery Log Page change notice as the kernel reports it (log 0x70 << 16 | info 0xF0 << 8 | type 2 Notice). */
export const AEN_DISCOVERY_LOG_CHANGE = '0x70f002';

/** True for a `change` event carrying the discovery-log-change AEN. */
export function isDiscoveryLogChange(e: Uevent): boolean {
  return e.action === 'change' && (e.properties['NVME_AEN'] ?? '').toLowerCase() === AEN_DISCOVERY_LOG_CHANGE;
}
