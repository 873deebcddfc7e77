#!/usr/bin/env node
// stacctl: talks to stacd over D-Bus (org.nvmexpress.stac) only.
import { DaemonClient, STACD } from './common/client.js';
import { table } from './common/output.js';
import { daemonProgram, registerControllerCommands, registerDebugCommands, runProgram } from './common/daemon-cli.js';
import { registerStacctlExtensions } from './stacctl/index.js';

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

registerControllerCommands(program, client, {
  ls: 'list the I/O controllers stacd manages',
  lsDetailed: 'include connection state and device attributes',
  status: "stacd's process information and every I/O controller",
  table: controllerTable,
});

registerDebugCommands(program, client);

registerStacctlExtensions(program, client);

await runProgram(program, client);
