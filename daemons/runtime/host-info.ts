// Host identity for process_info, read through sys.conf each time (file:// targets may change under us).
import type { SysConfig } from '../config/sys-config.js';
import type { HostInfo } from './process-info.js';

function orNull(read: () => string | null): string | null {
  try {
    return read();
  } catch {
    return null;
  }
}

export function hostInfo(sys: SysConfig): HostInfo {
  return {
    hostnqn: orNull(() => sys.hostnqn),
    hostid: orNull(() => sys.hostid),
    hostkeySet: orNull(() => sys.hostkey) !== null,
    symname: orNull(() => sys.symname),
  };
}
