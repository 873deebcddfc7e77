// Child process for the crash tests: opens the volume service on an existing root (recovering whatever
// the journal holds), runs one operation, and reports progress on stdout as JSON lines so that the
// parent can SIGKILL it at a chosen moment. Not a test file itself.
// Usage: node crash-child.js <qcow2|rbd> <root> <op> <volume> [arg]
import { openQcow2 } from './helpers.js';
import type { VolumeService } from '../../daemons/volumes/service.js';
import type { Job } from '../../daemons/jobs/runner.js';

function say(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

async function serviceFor(kind: string, root: string): Promise<VolumeService> {
  if (kind === 'qcow2') return (await openQcow2(root)).service;
  const { openRbdFromEnv } = await import('./rbd-fixture.js');
  return (await openRbdFromEnv(root)).service;
}

const [kind, root, op, volume, arg] = process.argv.slice(2);
const service = await serviceFor(kind, root);
let job: Job;
switch (op) {
  case 'flatten':
    job = await service.flatten(volume);
    break;
  case 'rollback':
    job = await service.rollback(volume, arg);
    break;
  case 'delete':
    job = await service.deleteVolume(volume, true);
    break;
  default:
    throw new Error(`unknown op ${op}`);
}
job.on('changed', () => say({ state: job.state, progress: job.progress }));
await job.wait();
say({ state: job.state, progress: job.progress, result: job.result, error: job.error, done: true });
process.exit(job.state === 'succeeded' ? 0 : 1);
