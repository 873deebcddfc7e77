// stasadm host sub-commands: hostnqn, hostid, set-symname, clear-symname (nvme-stas §2.4). Nothing is printed on
// success; errors go to stderr with exit status 1.
import type { Command } from 'commander';
import {
  clearHostOption,
  defaultHostFiles,
  generateHostId,
  generateHostNqn,
  RootRequiredError,
  saveHostOption,
} from '../../daemons/config/index.js';

function confFileOf(cmd: Command): string {
  const o = cmd.optsWithGlobals<{ confFile?: string }>();
  return o.confFile ?? defaultHostFiles().confFile;
}

function run(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    process.stderr.write(
      `${e instanceof RootRequiredError ? e.message : e instanceof Error ? e.message : String(e)}\n`,
    );
    process.exitCode = 1;
  }
}

export function register(program: Command): void {
  if (!program.options.some((o) => o.long === '--conf-file')) {
    program.option('-c, --conf-file <FILE>', 'Configuration file (default: /etc/stas/sys.conf)');
  }
  program
    .command('hostnqn')
    .description('Generate the host NQN (from /etc/machine-id when possible) and save it')
    .option('-f, --file <FILE>', 'Write the NQN to FILE and reference it from the configuration file as file://FILE')
    .action((opts: { file?: string }, cmd: Command) =>
      run(() => saveHostOption(confFileOf(cmd), 'nqn', generateHostNqn(), opts.file)),
    );
  program
    .command('hostid')
    .description('Generate a random host ID (UUID) and save it')
    .option('-f, --file <FILE>', 'Write the ID to FILE and reference it from the configuration file as file://FILE')
    .action((opts: { file?: string }, cmd: Command) =>
      run(() => saveHostOption(confFileOf(cmd), 'id', generateHostId(), opts.file)),
    );
  program
    .command('set-symname')
    .description('Set the host symbolic name (used for TP8010 registration)')
    .option('-f, --file <FILE>', 'Write the name to FILE and reference it from the configuration file as file://FILE')
    .argument('<SYMNAME>', 'Symbolic name')
    .action((symname: string, opts: { file?: string }, cmd: Command) =>
      run(() => saveHostOption(confFileOf(cmd), 'symname', symname, opts.file)),
    );
  program
    .command('clear-symname')
    .description('Remove the host symbolic name')
    .action((_opts: unknown, cmd: Command) => run(() => clearHostOption(confFileOf(cmd), 'symname')));
}
