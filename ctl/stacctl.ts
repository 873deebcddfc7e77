#!/usr/bin/env node
// stacctl: talks to stacd over D-Bus (org.nvmexpress.stac) only.
import { Command } from 'commander';
import { DaemonClient, STACD } from './common/client.js';
import { table, keyValues, printJson, runCommand } from './common/output.js';
import { tidArgs } from './common/tid-args.js';
import { stasVersion } from '../daemons/common/version.js';
import { registerStacctlExtensions } from './stacctl/index.js';

const IFACE = 'org.nvmexpress.stac';
const DEBUG = 'org.nvmexpress.stac.debug';

type Dict = Record<string, string>;

const client = new DaemonClient(STACD);

function controllerTable(rows: Dict[], detailed: boolean): string {
  if (rows.length === 0) return 'No I/O controllers.';
  const cols = [
    { header: 'DEVICE', value: (r: Dict) => r.device ?? '' },
    { header: 'TRANSPORT', value: (r: Dict) => r.transport ?? '' },
    { header: 'TRADDR', value: (r: Dict) => r.traddr ?? '' },
    { header: 'TRSVCID', value: (r: Dict) => r.trsvcid ?? '' },
    { header: 'HOST-IFACE', value: (r: Dict) => r['host-iface'] || '-' },
    { header: 'SUBSYSNQN', value: (r: Dict) => r.subsysnqn ?? '' },
  ];
  if (detailed) {
    cols.push(
      { header: 'CONNECTED', value: (r: Dict) => r.connected ?? '-' },
      { header: 'MODEL', value: (r: Dict) => r.model || '-' },
      { header: 'ATTEMPTS', value: (r: Dict) => r['connect attempts'] ?? '-' },
    );
  }
  return table(rows, cols);
}

async function setTron(on: boolean, json: boolean | undefined): Promise<void> {
  await client.setProperty(DEBUG, 'tron', 'b', on);
  const v = await client.getProperty(DEBUG, 'tron');
  if (json) printJson({ tron: v });
  else console.log(`tron = ${v ? 'True' : 'False'}`);
}

const program = new Command('stacctl')
  .description('Query and control stacd, the NVMe-oF I/O connector and volume manager, over D-Bus.')
  .version(`stas ${stasVersion()}`, '-v, --version', 'print the version and exit')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Output is a readable table by default; --json prints the daemon's data as JSON (errors too).

Exit status:
  0  success              3  stacd is not running       5  no system bus
  1  other failure        4  access denied (not root)   6  stacd did not answer in time
  2  usage error

D-Bus: org.nvmexpress.stac at /org/nvmexpress/stac on the system bus ($DBUS_SYSTEM_BUS_ADDRESS when set).`,
  );

// before the sub-commands are created: commander copies the setting into each of them
program.exitOverride((err) => {
  process.exit(err.code === 'commander.help' || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : err.exitCode === 0 ? 0 : 2);
});

program
  .command('ls')
  .description('list the I/O controllers stacd manages')
  .option('-d, --detailed', 'include connection state and device attributes')
  .option('--json', 'JSON output')
  .action(async (o: { detailed?: boolean; json?: boolean }) =>
    runCommand(o.json, async () => {
      const [list] = (await client.call(IFACE, 'list_controllers', 'b', [Boolean(o.detailed)])) as [Dict[]];
      if (o.json) printJson(list);
      else console.log(controllerTable(list, Boolean(o.detailed)));
    }),
  );

program
  .command('status')
  .description("stacd's process information and every I/O controller")
  .option('--json', 'JSON output')
  .action(async (o: { json?: boolean }) =>
    runCommand(o.json, async () => {
      const [infoJson] = (await client.call(DEBUG, 'process_info')) as [string];
      const info = JSON.parse(infoJson) as Record<string, unknown>;
      const [list] = (await client.call(IFACE, 'list_controllers', 'b', [true])) as [Dict[]];
      const controllers: Record<string, unknown>[] = [];
      for (const c of list) {
        const [ci] = (await client.call(DEBUG, 'controller_info', 'sssssss', tidArgs(c))) as [string];
        controllers.push({ ...c, ...(JSON.parse(ci) as Record<string, unknown>) });
      }
      if (o.json) {
        printJson({ ...info, controllers });
        return;
      }
      console.log(keyValues(info));
      console.log('');
      console.log(controllerTable(list, true));
    }),
  );

program
  .command('tron')
  .description('trace on: stacd logs at debug level (root only)')
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
  .action((o: { json?: boolean }) => (o.json ? printJson({ version: stasVersion() }) : console.log(`stas ${stasVersion()}`)));

registerStacctlExtensions(program, client);

await program.parseAsync(process.argv).catch(() => undefined);
client.close();
if (process.argv.length <= 2) {
  program.outputHelp();
  process.exitCode = 2;
}
// sub-command modules may hold bus connections of their own: the command is done, so is the process
process.exit(process.exitCode ?? 0);
