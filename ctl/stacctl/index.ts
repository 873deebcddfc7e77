// stacctl sub-command groups beyond nvme-stas's (reconcile plan, volumes, snapshots, jobs, schedules).
import type { Command } from 'commander';
import type { DaemonClient } from '../common/client.js';
import { register as registerPlan } from './plan.js';
import { register as registerSchedules } from './schedule.js';

export function registerStacctlExtensions(program: Command, client: DaemonClient): void {
  registerPlan(program, client);
  // schedules use their own client: RunNow can outlast the default call timeout while a hook runs
  registerSchedules(program);
}
