// The host NQN stafctl dlp uses by default: the one stafd itself uses (sys.conf, then /etc/nvme/hostnqn).
import { loadSysConfig } from '../../daemons/config/sys-config.js';

export function defaultHostNqn(): string {
  try {
    return loadSysConfig().config.hostnqn;
  } catch {
    // no readable host NQN: the exact-match lookup then simply finds nothing
    return '';
  }
}
