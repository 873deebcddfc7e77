// A stacctl with only the storage command groups (volume, snapshot, job), for the CLI tests. Not a test file.
import { Command } from 'commander';
import { register as registerVolume } from '../../ctl/stacctl/volume.js';
import { register as registerSnapshot } from '../../ctl/stacctl/snapshot.js';
import { register as registerJob } from '../../ctl/stacctl/job.js';

const program = new Command('stacctl').exitOverride((e) => {
  process.exit(e.exitCode === 0 ? 0 : 2);
});
registerVolume(program);
registerSnapshot(program);
registerJob(program);
await program.parseAsync(process.argv);
