// stacctl access-path create|ls|show|rm|add-volume|remove-volume|map-host|unmap-host — over D-Bus
// (AccessPathManager1 / AccessPath1). Tables by default, --json for scripts.
import { Command } from 'commander';
import dbus from 'dbus-next';
import { resolve } from 'node:path';
import { CliError, EXIT, type DaemonClient } from '../common/client.js';
import { table, keyValues, printJson, runCommand } from '../common/output.js';
import { storageClient, group, getAll, managedObjects, type Props } from './job.js';

const MANAGER_PATH = '/org/nvmexpress/stac/storage/access_path';
const MANAGER_IFACE = 'org.nvmexpress.stac.AccessPathManager1';
const AP_IFACE = 'org.nvmexpress.stac.AccessPath1';

async function withClient(json: boolean | undefined, fn: (c: DaemonClient) => Promise<void>): Promise<void> {
  await runCommand(json, async () => {
    const client = storageClient();
    try {
      await fn(client);
    } finally {
      client.close();
    }
  });
}

async function pathOf(client: DaemonClient, name: string): Promise<string> {
  const [p] = await client.call(MANAGER_IFACE, 'FindAccessPath', 's', [name], MANAGER_PATH);
  return String(p);
}

const port = (p: unknown[]): string =>
  `${String(p[0])}:${p[1] === 'ipv6' ? `[${String(p[2])}]` : String(p[2])}:${String(p[3])}`;

/** properties as plain JSON for --json and the tables */
function describe(a: Props): {
  name: string;
  nqn: string;
  ports: string[];
  hosts: { nqn: string; keyFile: string | null }[];
  volumes: { nsid: number; volume: string }[];
  created: string;
} {
  return {
    name: String(a.Name),
    nqn: String(a.Nqn),
    ports: (a.Ports as unknown[][]).map(port),
    hosts: (a.Hosts as [string, string][]).map(([nqn, keyFile]) => ({ nqn, keyFile: keyFile || null })),
    volumes: (a.Volumes as [number, string][]).map(([nsid, volume]) => ({ nsid: Number(nsid), volume })),
    created: Number(a.Created) ? new Date(Number(a.Created) * 1000).toISOString().replace('.000Z', 'Z') : '-',
  };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function register(program: Command): void {
  const ap = group(
    program,
    'access-path',
    'access paths: volumes exported over NVMe/TCP to mapped hosts (kernel NVMe target)',
  );

  ap.command('create <name>')
    .description('create an access path (an NVMe subsystem served on its ports)')
    .requiredOption('--port <tcp:ADDR:PORT>', 'a port to listen on (repeatable; IPv6 address in brackets)', collect, [])
    .option('--nqn <nqn>', 'subsystem NQN (default: derived from this host and the name)')
    .option('--json', 'JSON output')
    .action((name: string, o: { port: string[]; nqn?: string; json?: boolean }) =>
      withClient(o.json, async (client) => {
        const opts: Record<string, dbus.Variant> = {};
        if (o.nqn) opts.nqn = new dbus.Variant('s', o.nqn);
        const [path] = await client.call(
          MANAGER_IFACE,
          'CreateAccessPath',
          'sasa{sv}',
          [name, o.port, opts],
          MANAGER_PATH,
        );
        const a = describe(await getAll(client, String(path), AP_IFACE));
        if (o.json) printJson(a);
        else process.stdout.write(`created access path ${a.name} (${a.nqn}) on ${a.ports.join(', ')}\n`);
      }),
    );

  ap.command('ls')
    .description('list access paths')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withClient(o.json, async (client) => {
        const aps = Object.values(await managedObjects(client))
          .map((i) => i[AP_IFACE])
          .filter((v): v is Props => v !== undefined)
          .map(describe)
          .sort((a, b) => a.name.localeCompare(b.name));
        if (o.json) return printJson(aps);
        if (aps.length === 0) return void process.stdout.write('No access paths.\n');
        process.stdout.write(
          table(aps, [
            { header: 'NAME', value: (a) => a.name },
            { header: 'PORTS', value: (a) => a.ports.join(',') },
            { header: 'HOSTS', value: (a) => String(a.hosts.length), align: 'right' },
            { header: 'VOLUMES', value: (a) => String(a.volumes.length), align: 'right' },
            { header: 'NQN', value: (a) => a.nqn },
          ]) + '\n',
        );
      }),
    );

  ap.command('show <name>')
    .description('show an access path: ports, mapped hosts, volumes by namespace id')
    .option('--json', 'JSON output')
    .action((name: string, o: { json?: boolean }) =>
      withClient(o.json, async (client) => {
        const a = describe(await getAll(client, await pathOf(client, name), AP_IFACE));
        if (o.json) return printJson(a);
        process.stdout.write(keyValues({ name: a.name, nqn: a.nqn, ports: a.ports, created: a.created }) + '\n\n');
        process.stdout.write(
          (a.hosts.length
            ? table(a.hosts, [
                { header: 'HOST NQN', value: (h) => h.nqn },
                { header: 'DH-HMAC-CHAP KEY FILE', value: (h) => h.keyFile ?? '-' },
              ])
            : 'No mapped hosts.') + '\n\n',
        );
        process.stdout.write(
          (a.volumes.length
            ? table(a.volumes, [
                { header: 'NSID', value: (v) => String(v.nsid), align: 'right' },
                { header: 'VOLUME', value: (v) => v.volume },
              ])
            : 'No volumes.') + '\n',
        );
      }),
    );

  ap.command('rm <name>')
    .description('delete an access path (its hosts lose access to its volumes)')
    .option('--json', 'JSON output')
    .action((name: string, o: { json?: boolean }) =>
      withClient(o.json, async (client) => {
        await client.call(AP_IFACE, 'Delete', '', [], await pathOf(client, name));
        if (o.json) printJson({ deleted: name });
        else process.stdout.write(`deleted access path ${name}\n`);
      }),
    );

  ap.command('add-volume <access-path> <volume>')
    .description('serve a volume as a namespace of the access path')
    .option('--nsid <n>', 'namespace id (default: the next free one)')
    .option('--json', 'JSON output')
    .action((name: string, volume: string, o: { nsid?: string; json?: boolean }) =>
      withClient(o.json, async (client) => {
        if (o.nsid !== undefined && !/^[1-9]\d{0,3}$/.test(o.nsid))
          throw new CliError(`--nsid: "${o.nsid}" is not a namespace id (1-1024)`, EXIT.USAGE, 'usage');
        const [nsid] = await client.call(
          AP_IFACE,
          'AddVolume',
          'su',
          [volume, Number(o.nsid ?? 0)],
          await pathOf(client, name),
        );
        if (o.json) printJson({ accessPath: name, volume, nsid: Number(nsid) });
        else process.stdout.write(`volume ${volume} is namespace ${String(nsid)} of ${name}\n`);
      }),
    );

  ap.command('remove-volume <access-path> <volume>')
    .description('stop serving a volume through the access path')
    .option('--json', 'JSON output')
    .action((name: string, volume: string, o: { json?: boolean }) =>
      withClient(o.json, async (client) => {
        await client.call(AP_IFACE, 'RemoveVolume', 's', [volume], await pathOf(client, name));
        if (o.json) printJson({ accessPath: name, removed: volume });
        else process.stdout.write(`volume ${volume} removed from ${name}\n`);
      }),
    );

  ap.command('map-host <access-path> <host-nqn>')
    .description('allow a host (by its NQN) to connect, optionally with a DH-HMAC-CHAP key')
    .option('--dhchap-key-file <file>', "file holding the host's DH-HMAC-CHAP secret (mode 0600; stacd reads it)")
    .option('--json', 'JSON output')
    .action((name: string, nqn: string, o: { dhchapKeyFile?: string; json?: boolean }) =>
      withClient(o.json, async (client) => {
        const opts: Record<string, dbus.Variant> = {};
        if (o.dhchapKeyFile) opts.dhchap_key_file = new dbus.Variant('s', resolve(o.dhchapKeyFile));
        await client.call(AP_IFACE, 'MapHost', 'sa{sv}', [nqn, opts], await pathOf(client, name));
        if (o.json) printJson({ accessPath: name, mapped: nqn });
        else process.stdout.write(`host ${nqn} mapped to ${name}\n`);
      }),
    );

  ap.command('unmap-host <access-path> <host-nqn>')
    .description('remove a host from the mapping group')
    .option('--json', 'JSON output')
    .action((name: string, nqn: string, o: { json?: boolean }) =>
      withClient(o.json, async (client) => {
        await client.call(AP_IFACE, 'UnmapHost', 's', [nqn], await pathOf(client, name));
        if (o.json) printJson({ accessPath: name, unmapped: nqn });
        else process.stdout.write(`host ${nqn} unmapped from ${name}\n`);
      }),
    );
}
