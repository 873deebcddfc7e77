// The process_info keys both daemons share, in nvme-stas order (§1.8 of the reference):
// hostnqn, hostid, hostkey, symname, last known config file, config soak timer, kernel support.*, terminator.audit timer.
import type { PyValue } from '../common/pyfmt.js';
import type { Timer } from '../common/timer.js';

export interface HostInfo {
  hostnqn: string | null;
  hostid: string | null;
  /** whether a host DH-HMAC-CHAP key is configured; the key itself is never shown */
  hostkeySet: boolean;
  symname: string | null;
}

export interface ProcessInfoBase {
  host: HostInfo;
  lastKnownConfigFile: string;
  configSoakTimer: Timer;
  tp8013: boolean;
  hostIface: boolean;
  auditTimer: Timer;
}

export function baseProcessInfo(b: ProcessInfoBase): Record<string, PyValue> {
  return {
    hostnqn: b.host.hostnqn,
    hostid: b.host.hostid,
    // deliberate deviation from nvme-stas: secrets never appear in a reply
    hostkey: b.host.hostkeySet ? '<redacted>' : null,
    symname: b.host.symname,
    'last known config file': b.lastKnownConfigFile,
    'config soak timer': b.configSoakTimer.toString(),
    'kernel support.TP8013': b.tp8013 ? 'True' : 'False',
    'kernel support.host_iface': b.hostIface ? 'True' : 'False',
    'terminator.audit timer': b.auditTimer.toString(),
  };
}
