#!/usr/bin/env node
// stasadm: host identity administration (as nvme-stas's) and userspace NVMe/TCP diagnostics.
import { Command } from 'commander';
import { stasVersion } from '../daemons/common/version.js';
import { register as registerHost } from './stasadm/host.js';
import { register as registerDiscover } from './stasadm/discover.js';
import { register as registerConnectTest } from './stasadm/connect-test.js';
import { register as registerGenDhchapKey } from './stasadm/gen-dhchap-key.js';

const program = new Command('stasadm')
  .description(
    'Administration of the stas host identity (sys.conf, /etc/nvme/host*) and one-shot NVMe/TCP diagnostics.',
  )
  .version(`stas ${stasVersion()}`, '-v, --version', 'print the version and exit')
  .showHelpAfterError();

// before the sub-commands are created: commander copies the setting into each of them
program.exitOverride((err) => {
  process.exit(
    err.code === 'commander.help' || err.code === 'commander.helpDisplayed' || err.code === 'commander.version'
      ? 0
      : err.exitCode === 0
        ? 0
        : 2,
  );
});

registerHost(program);
registerDiscover(program);
registerConnectTest(program);
registerGenDhchapKey(program);

if (process.argv.length <= 2) {
  program.outputHelp();
  process.exit(1);
}
await program.parseAsync(process.argv);
