// Which fabrics options the kernel supports (§4.14): read from the first line of /dev/nvme-fabrics
// (kernel >= 5.17). Without the kernel path, stas's userspace host supports them all itself.
import { readFileSync, existsSync } from 'node:fs';

export interface KernelSupport {
  /** /dev/nvme-fabrics exists */
  fabricsDevice: boolean;
  /** TP8013 `discovery` option */
  discovery: boolean;
  hostIface: boolean;
  dhchapSecret: boolean;
  dhchapCtrlSecret: boolean;
}

const DEV = '/dev/nvme-fabrics';

export function kernelSupport(dev = DEV): KernelSupport {
  if (!existsSync(dev))
    return { fabricsDevice: false, discovery: true, hostIface: true, dhchapSecret: true, dhchapCtrlSecret: true };
  let first = '';
  try {
    first = readFileSync(dev, 'utf8').split('\n')[0] ?? '';
  } catch {
    first = '';
  }
  const opts = new Set(first.split(',').map((o) => o.split('=')[0]!.trim()));
  return {
    fabricsDevice: true,
    discovery: opts.has('discovery'),
    hostIface: opts.has('host_iface'),
    dhchapSecret: opts.has('dhchap_secret'),
    dhchapCtrlSecret: opts.has('dhchap_ctrl_secret'),
  };
}
