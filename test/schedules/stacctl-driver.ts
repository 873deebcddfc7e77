// A stacctl with only the schedule commands registered, so the CLI module is tested on its own over a real
// bus before the lead wires it into ctl/stacctl.ts. Usage: node stacctl-driver.js <stacctl args…>
import { Command } from 'commander';
import { register } from '../../ctl/stacctl/schedule.js';
import { DaemonClient, STACD } from '../../ctl/common/client.js';

const client = new DaemonClient(STACD, 60_000);
const program = new Command('stacctl');
register(program, client);
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});
await program.parseAsync(process.argv).catch(() => undefined);
client.close();
