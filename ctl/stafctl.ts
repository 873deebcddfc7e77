#!/usr/bin/env node
// stafctl: talks to stafd over D-Bus (org.nvmexpress.staf) only.
import { Command, Option } from 'commander';
import { DaemonClient, STAFD } from './common/client.js';
import { table, keyValues, printJson, runCommand } from './common/output.js';
import { tidArgs } from './common/tid-args.js';
import { defaultHostNqn } from './common/host-nqn.js';
import { stasVersion } from '../daemons/common/version.js';

const IFACE = 'org.nvmexpress.staf';
const DEBUG = 'org.nvmexpress.staf.debug';
const WELL_KNOWN_DISC_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

type Dict = Record<string, string>;

const client = new DaemonClient(STAFD);

function controllerTable(rows: Dict[], detailed: boolean): string {
  if (rows.length === 0) return 'No discovery controllers.';
  const cols = [
    { header: 'DEVICE', value: (r: Dict) => r.device ?? '' },
    { header: 'TRANSPORT', value: (r: Dict) => r.transport ?? '' },
    { header: 'TRADDR', value: (r: Dict) => r.traddr ?? '' },
    { header: 'TRSVCID', value: (r: Dict) => r.trsvcid ?? '' },
    { header: 'HOST-IFACE', value: (r: Dict) => r['host-iface'] || '-' },
    { header: 'HOST-TRADDR', value: (r: Dict) => r['host-traddr'] || '-' },
    { header: 'SUBSYSNQN', value: (r: Dict) => r.subsysnqn ?? '' },
  ];
  if (detailed) {
    cols.push(
      { header: 'ORIGIN', value: (r: Dict) => r.origin ?? '-' },
      { header: 'CONNECTED', value: (r: Dict) => r.connected ?? '-' },
      { header: 'ATTEMPTS', value: (r: Dict) => r['connect attempts'] ?? '-' },
    );
  }
  return table(rows, cols);
}

function dlpTable(entries: Dict[]): string {
  if (entries.length === 0) return 'No log page entries.';
  return table(entries, [
    { header: 'SUBTYPE', value: (e) => e.subtype ?? '' },
    { header: 'TRTYPE', value: (e) => e.trtype ?? '' },
    { header: 'ADRFAM', value: (e) => e.adrfam ?? '' },
    { header: 'TRADDR', value: (e) => e.traddr ?? '' },
    { header: 'TRSVCID', value: (e) => e.trsvcid ?? '' },
    { header: 'PORTID', value: (e) => e.portid ?? '', align: 'right' },
    { header: 'TREQ', value: (e) => e.treq ?? '' },
    { header: 'EFLAGS', value: (e) => e.eflags ?? '', align: 'right' },
    { header: 'SUBNQN', value: (e) => e.subnqn ?? '' },
  ]);
}

async function setTron(on: boolean, json: boolean | undefined): Promise<void> {
  await client.setProperty(DEBUG, 'tron', 'b', on);
  const v = await client.getProperty(DEBUG, 'tron');
  if (json) printJson({ tron: v });
  else console.log(`tron = ${v ? 'True' : 'False'}`);
}

const program = new Command('stafctl')
  .description('Query and control stafd, the NVMe-oF discovery controller finder, over D-Bus.')
  .version(`stas ${stasVersion()}`, '-v, --version', 'print the version and exit')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Output is a readable table by default; --json prints the daemon's data as JSON (errors too).

Exit status:
  0  success              3  stafd is not running       5  no system bus
  1  other failure        4  access denied (not root)   6  stafd did not answer in time
  2  usage error

D-Bus: org.nvmexpress.staf at /org/nvmexpress/staf on the system bus ($DBUS_SYSTEM_BUS_ADDRESS when set).`,
  );

// before the sub-commands are created: commander copies the setting into each of them
program.exitOverride((err) => {
  process.exit(err.code === 'commander.help' || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : err.exitCode === 0 ? 0 : 2);
});

program
  .command('ls')
  .description('list the discovery controllers stafd manages')
  .option('-d, --detailed', 'include connection state, origin and device attributes')
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
  .description("stafd's process information and every controller with its log pages")
  .option('--json', 'JSON output')
  .action(async (o: { json?: boolean }) =>
    runCommand(o.json, async () => {
      const [infoJson] = (await client.call(DEBUG, 'process_info')) as [string];
      const info = JSON.parse(infoJson) as Record<string, unknown>;
      const [list] = (await client.call(IFACE, 'list_controllers', 'b', [true])) as [Dict[]];
      const controllers: Record<string, unknown>[] = [];
      for (const c of list) {
        const [pages] = (await client.call(IFACE, 'get_log_pages', 'sssssss', tidArgs(c))) as [Dict[]];
        const [ci] = (await client.call(DEBUG, 'controller_info', 'sssssss', tidArgs(c))) as [string];
        controllers.push({ ...c, ...(JSON.parse(ci) as Record<string, unknown>), log_pages: pages });
      }
      if (o.json) {
        printJson({ ...info, controllers });
        return;
      }
      console.log(keyValues(info));
      console.log('');
      console.log(controllerTable(list, true));
      for (const c of controllers) {
        const pages = c.log_pages as Dict[];
        console.log(`\n${c.device} ${c.transport} ${c.traddr}:${c.trsvcid} ${c.subsysnqn}: ${pages.length} log page entries`);
        if (pages.length) console.log(dlpTable(pages));
      }
    }),
  );

program
  .command('dlp')
  .description('the cached discovery log page entries of one discovery controller (exact 7-field match)')
  .addOption(new Option('-t, --transport <transport>', 'transport').choices(['tcp', 'rdma', 'fc', 'loop']).default('tcp'))
  .requiredOption('-a, --traddr <traddr>', 'discovery controller address')
  .requiredOption('-s, --trsvcid <trsvcid>', 'discovery controller port')
  .option('-w, --host-traddr <addr>', 'host transport address', '')
  .option('-f, --host-iface <iface>', 'host interface (mDNS-found controllers carry the interface name)', '')
  .option('-q, --host-nqn <nqn>', 'host NQN (default: the host NQN of /etc/stas/sys.conf or /etc/nvme/hostnqn)')
  .option('-n, --nqn <nqn>', 'discovery controller NQN', WELL_KNOWN_DISC_NQN)
  .option('--json', 'JSON output')
  .action(async (o: { transport: string; traddr: string; trsvcid: string; hostTraddr: string; hostIface: string; hostNqn?: string; nqn: string; json?: boolean }) =>
    runCommand(o.json, async () => {
      const hostNqn = o.hostNqn ?? defaultHostNqn();
      const [pages] = (await client.call(IFACE, 'get_log_pages', 'sssssss', [o.transport, o.traddr, o.trsvcid, o.nqn, o.hostTraddr, o.hostIface, hostNqn])) as [Dict[]];
      if (o.json) printJson(pages);
      else console.log(dlpTable(pages));
    }),
  );

program
  .command('adlp')
  .description('the cached discovery log pages of every discovery controller')
  .option('-d, --detailed', 'detailed controller dictionaries')
  .option('--json', 'JSON output')
  .action(async (o: { detailed?: boolean; json?: boolean }) =>
    runCommand(o.json, async () => {
      const [text] = (await client.call(IFACE, 'get_all_log_pages', 'b', [Boolean(o.detailed)])) as [string];
      const all = JSON.parse(text) as { 'discovery-controller': Dict; 'log-pages': Dict[] }[];
      if (o.json) {
        printJson(all);
        return;
      }
      if (all.length === 0) console.log('No discovery controllers.');
      for (const dc of all) {
        const c = dc['discovery-controller'];
        console.log(`${c.device} ${c.transport} ${c.traddr}:${c.trsvcid} ${c.subsysnqn}${c['host-iface'] ? ' via ' + c['host-iface'] : ''}`);
        console.log(dlpTable(dc['log-pages']) + '\n');
      }
    }),
  );

program
  .command('tron')
  .description('trace on: stafd logs at debug level (root only)')
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

await program.parseAsync(process.argv).catch(() => undefined);
client.close();
if (process.argv.length <= 2) {
  program.outputHelp();
  process.exitCode = 2;
}
// sub-command modules may hold bus connections of their own: the command is done, so is the process
process.exit(process.exitCode ?? 0);
