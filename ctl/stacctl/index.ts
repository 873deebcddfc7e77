// stacctl sub-command groups beyond nvme-stas's (reconcile plan, volumes, snapshots, jobs, access paths, schedules).
import type { Command } from 'commander';
import type { DaemonClient } from '../common/client.js';
import { register as registerPlan } from './plan.js';
import { register as registerVolumes } from './volume.js';
import { register as registerSnapshots } from './snapshot.js';
import { register as registerJobs } from './job.js';
import { register as registerSchedules } from './schedule.js';
import { register as registerAccessPaths } from './access-path.js';

export function registerStacctlExtensions(program: Command, client: DaemonClient): void {
  registerPlan(program, client);
  registerVolumes(program);
  registerSnapshots(program);
  registerJobs(program);
  registerAccessPaths(program);
  // schedules use their own client: RunNow can outlast the default call timeout while a hook runs;
  // they add `snapshot gc` and `check snapshots` to the groups that exist by then
  registerSchedules(program);
}
