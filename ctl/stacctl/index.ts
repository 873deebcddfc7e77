// stacctl sub-command groups beyond nvme-stas's (volumes, snapshots, jobs, schedules).
import type { Command } from 'commander';
import type { DaemonClient } from '../common/client.js';

export function registerStacctlExtensions(_program: Command, _client: DaemonClient): void {
  // each group module registers itself here as it lands
}
