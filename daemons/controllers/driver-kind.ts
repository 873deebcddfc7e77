// Which fabrics driver a daemon uses (design.md §1), the same rule for stafd and stacd: `auto` = the kernel host
// when /dev/nvme-fabrics exists and can be opened for writing, else the userspace host.
// STAS_FABRICS_DRIVER=kernel|userspace|auto overrides it (until the configuration has an option for it).
import { accessSync, constants } from 'node:fs';
import { log } from '../common/log.js';

export type DriverKind = 'kernel' | 'userspace';

export const DRIVER_ENV = 'STAS_FABRICS_DRIVER';
const FABRICS_DEVICE = '/dev/nvme-fabrics';

export function kernelFabricsUsable(device = FABRICS_DEVICE): boolean {
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function chooseDriverKind(
  setting: string | undefined,
  kernelUsable: boolean,
): { kind: DriverKind; why: string } {
  const s = (setting ?? 'auto').trim().toLowerCase();
  if (s === 'kernel' || s === 'userspace') return { kind: s, why: `${DRIVER_ENV}=${s}` };
  if (s !== 'auto' && s !== '') log().warn(`${DRIVER_ENV}="${setting}" is not kernel, userspace or auto; using auto`);
  return kernelUsable
    ? { kind: 'kernel', why: `${FABRICS_DEVICE} is usable` }
    : { kind: 'userspace', why: `${FABRICS_DEVICE} is missing or not writable` };
}
