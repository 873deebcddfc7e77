#!/usr/bin/env node
// stacctl: talks to stacd over D-Bus (org.nvmexpress.stac) only.
import { DaemonClient, STACD } from './common/client.js';
import { table, keyValues, printJson, runCommand } from './common/output.js';
import { tidArgs } from './common/tid-args.js';
import { daemonProgram, registerDebugCommands, runProgram } from './common/daemon-cli.js';
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

const program = daemonProgram(
  'stacctl',
  STACD,
  'Query and control stacd, the NVMe-oF I/O connector and volume manager, over D-Bus.',
);

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

registerDebugCommands(program, client);

registerStacctlExtensions(program, client);

await runProgram(program, client);
