#!/usr/bin/env node
// stafctl: talks to stafd over D-Bus (org.nvmexpress.staf) only.
import { Option } from 'commander';
import { DaemonClient, STAFD } from './common/client.js';
import { table, printJson, runCommand } from './common/output.js';
import { tidArgs } from './common/tid-args.js';
import { defaultHostNqn } from './common/host-nqn.js';
import { daemonProgram, registerControllerCommands, registerDebugCommands, runProgram } from './common/daemon-cli.js';

const IFACE = 'org.nvmexpress.staf';
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

const program = daemonProgram(
  'stafctl',
  STAFD,
  'Query and control stafd, the NVMe-oF discovery controller finder, over D-Bus.',
);

registerControllerCommands(program, client, {
  ls: 'list the discovery controllers stafd manages',
  lsDetailed: 'include connection state, origin and device attributes',
  status: "stafd's process information and every controller with its log pages",
  table: controllerTable,
  statusExtra: async (c) => {
    const [pages] = (await client.call(IFACE, 'get_log_pages', 'sssssss', tidArgs(c))) as [Dict[]];
    return { log_pages: pages };
  },
  printStatusExtra: (controllers) => {
    for (const c of controllers) {
      const pages = c.log_pages as Dict[];
      console.log(
        `\n${c.device} ${c.transport} ${c.traddr}:${c.trsvcid} ${c.subsysnqn}: ${pages.length} log page entries`,
      );
      if (pages.length) console.log(dlpTable(pages));
    }
  },
});

program
  .command('dlp')
  .description('the cached discovery log page entries of one discovery controller (exact 7-field match)')
  .addOption(
    new Option('-t, --transport <transport>', 'transport').choices(['tcp', 'rdma', 'fc', 'loop']).default('tcp'),
  )
  .requiredOption('-a, --traddr <traddr>', 'discovery controller address')
  .requiredOption('-s, --trsvcid <trsvcid>', 'discovery controller port')
  .option('-w, --host-traddr <addr>', 'host transport address', '')
  .option('-f, --host-iface <iface>', 'host interface (mDNS-found controllers carry the interface name)', '')
  .option('-q, --host-nqn <nqn>', 'host NQN (default: the host NQN of /etc/stas/sys.conf or /etc/nvme/hostnqn)')
  .option('-n, --nqn <nqn>', 'discovery controller NQN', WELL_KNOWN_DISC_NQN)
  .option('--json', 'JSON output')
  .action(
    async (o: {
      transport: string;
      traddr: string;
      trsvcid: string;
      hostTraddr: string;
      hostIface: string;
      hostNqn?: string;
      nqn: string;
      json?: boolean;
    }) =>
      runCommand(o.json, async () => {
        const hostNqn = o.hostNqn ?? defaultHostNqn();
        const [pages] = (await client.call(IFACE, 'get_log_pages', 'sssssss', [
          o.transport,
          o.traddr,
          o.trsvcid,
          o.nqn,
          o.hostTraddr,
          o.hostIface,
          hostNqn,
        ])) as [Dict[]];
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
        console.log(
          `${c.device} ${c.transport} ${c.traddr}:${c.trsvcid} ${c.subsysnqn}${c['host-iface'] ? ' via ' + c['host-iface'] : ''}`,
        );
        console.log(dlpTable(dc['log-pages']) + '\n');
      }
    }),
  );

registerDebugCommands(program, client);

await runProgram(program, client);
