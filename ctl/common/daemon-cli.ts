// What stafctl and stacctl share: the program with its help text and exit codes, ls/status, tron/troff/version,
// and the end of a run (bus connections closed, exit code kept).
import { Command } from 'commander';
import type { DaemonClient, DaemonTarget } from './client.js';
import { keyValues, printJson, runCommand } from './output.js';
import { tidArgs } from './tid-args.js';
import { stasVersion } from '../../daemons/common/version.js';

export function daemonProgram(name: 'stafctl' | 'stacctl', target: DaemonTarget, description: string): Command {
  const program = new Command(name)
    .description(description)
    .version(`stas ${stasVersion()}`, '-v, --version', 'print the version and exit')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Output is a readable table by default; --json prints the daemon's data as JSON (errors too).

Exit status:
  0  success              3  ${target.prog} is not running       5  no system bus
  1  other failure        4  access denied (not root)   6  ${target.prog} did not answer in time
  2  usage error

D-Bus: ${target.busName} at ${target.objectPath} on the system bus ($DBUS_SYSTEM_BUS_ADDRESS when set).`,
    );
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
  return program;
}

type Dict = Record<string, string>;

/** How one CLI shows its daemon's controllers. */
export interface ControllerCommands {
  /** help of `ls`, of its --detailed, and of `status` */
  ls: string;
  lsDetailed: string;
  status: string;
  /** the controller table; detailed adds the connection columns */
  table(rows: Dict[], detailed: boolean): string;
  /** more of one controller in `status` (stafctl: its log pages), after controller_info's keys */
  statusExtra?(c: Dict): Promise<Record<string, unknown>>;
  /** printed after the table of `status`, from the controllers with their extra keys */
  printStatusExtra?(controllers: Record<string, unknown>[]): void;
}

/** ls (list_controllers) and status (process_info, then every controller with its controller_info). */
export function registerControllerCommands(program: Command, client: DaemonClient, cli: ControllerCommands): void {
  const iface = client.target.busName;
  const debugIface = `${iface}.debug`;
  const list = async (detailed: boolean): Promise<Dict[]> =>
    ((await client.call(iface, 'list_controllers', 'b', [detailed])) as [Dict[]])[0];
  program
    .command('ls')
    .description(cli.ls)
    .option('-d, --detailed', cli.lsDetailed)
    .option('--json', 'JSON output')
    .action(async (o: { detailed?: boolean; json?: boolean }) =>
      runCommand(o.json, async () => {
        const rows = await list(Boolean(o.detailed));
        if (o.json) printJson(rows);
        else console.log(cli.table(rows, Boolean(o.detailed)));
      }),
    );
  program
    .command('status')
    .description(cli.status)
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const [infoJson] = (await client.call(debugIface, 'process_info')) as [string];
        const info = JSON.parse(infoJson) as Record<string, unknown>;
        const rows = await list(true);
        const controllers: Record<string, unknown>[] = [];
        for (const c of rows) {
          const extra = (await cli.statusExtra?.(c)) ?? {};
          const [ci] = (await client.call(debugIface, 'controller_info', 'sssssss', tidArgs(c))) as [string];
          controllers.push({ ...c, ...(JSON.parse(ci) as Record<string, unknown>), ...extra });
        }
        if (o.json) {
          printJson({ ...info, controllers });
          return;
        }
        console.log(keyValues(info));
        console.log('');
        console.log(cli.table(rows, true));
        cli.printStatusExtra?.(controllers);
      }),
    );
}

/** tron, troff (root only: Properties.Set) and version, as nvme-stas's CLIs have them. */
export function registerDebugCommands(program: Command, client: DaemonClient): void {
  const debugIface = `${client.target.busName}.debug`;
  const setTron = async (on: boolean, json: boolean | undefined): Promise<void> => {
    await client.setProperty(debugIface, 'tron', 'b', on);
    const v = await client.getProperty(debugIface, 'tron');
    if (json) printJson({ tron: v });
    else console.log(`tron = ${v ? 'True' : 'False'}`);
  };
  program
    .command('tron')
    .description(`trace on: ${client.target.prog} logs at debug level (root only)`)
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) => runCommand(o.json, () => setTron(true, o.json)));
  program
    .command('troff')
    .description('trace off (root only)')
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) => runCommand(o.json, () => setTron(false, o.json)));
  program
    .command('version')
    .description('print the version')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      o.json ? printJson({ version: stasVersion() }) : console.log(`stas ${stasVersion()}`),
    );
}

/** Parses argv, runs the command, closes the client and exits with the command's code. */
export async function runProgram(program: Command, client: DaemonClient): Promise<never> {
  await program.parseAsync(process.argv).catch(() => undefined);
  client.close();
  if (process.argv.length <= 2) {
    program.outputHelp();
    process.exitCode = 2;
  }
  // sub-command modules may hold bus connections of their own: the command is done, so is the process
  process.exit(process.exitCode ?? 0);
}
