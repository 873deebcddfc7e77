// stacctl snapshot create|ls|rm|protect|unprotect VOLUME [NAME] — over D-Bus (Volume1/Snapshot1).
import { Command } from 'commander';
import type { DaemonClient } from '../common/client.js';
import { table, printJson, runCommand } from '../common/output.js';
import { formatSize } from '../../daemons/volumes/size.js';
import {
  storageClient,
  group,
  getAll,
  managedObjects,
  volumePathOf,
  snapshotPathOf,
  SNAPSHOT_IFACE,
  VOLUME_IFACE,
  type Props,
} from './job.js';

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

function simple(snap: Command, verb: string, member: string, description: string, done: string): void {
  snap
    .command(`${verb} <volume> <name>`)
    .description(description)
    .option('--json', 'JSON output')
    .action((volume: string, name: string, o: { json?: boolean }) =>
      withClient(o.json, async (client) => {
        await client.call(SNAPSHOT_IFACE, member, '', [], await snapshotPathOf(client, volume, name));
        if (o.json) printJson({ volume, snapshot: name, [verb]: true });
        else process.stdout.write(`${done} ${volume}@${name}\n`);
      }),
    );
}

export function register(program: Command): void {
  const snap = group(program, 'snapshot', 'volume snapshots');

  snap
    .command('create <volume> <name>')
    .description('take a snapshot (at most 256 per volume)')
    .option('--json', 'JSON output')
    .action((volume: string, name: string, o: { json?: boolean }) =>
      withClient(o.json, async (client) => {
        const [path] = await client.call(
          VOLUME_IFACE,
          'CreateSnapshot',
          's',
          [name],
          await volumePathOf(client, volume),
        );
        const s = await getAll(client, String(path), SNAPSHOT_IFACE);
        if (o.json) printJson(s);
        else process.stdout.write(`created ${volume}@${s.Name}\n`);
      }),
    );

  snap
    .command('ls <volume>')
    .description("list a volume's snapshots")
    .option('--json', 'JSON output')
    .action((volume: string, o: { json?: boolean }) =>
      withClient(o.json, async (client) => {
        const vpath = await volumePathOf(client, volume);
        const objs = await managedObjects(client);
        const snaps = Object.values(objs)
          .map((i) => i[SNAPSHOT_IFACE])
          .filter((s): s is Props => s !== undefined && s.Volume === vpath)
          .sort((a, b) => Number(a.Created) - Number(b.Created) || String(a.Name).localeCompare(String(b.Name)));
        if (o.json) return printJson(snaps);
        process.stdout.write(
          table(snaps, [
            { header: 'NAME', value: (s) => String(s.Name) },
            { header: 'SIZE', value: (s) => formatSize(Number(s.Size)), align: 'right' },
            { header: 'PROTECTED', value: (s) => (s.Protected ? 'yes' : 'no') },
            {
              header: 'CREATED',
              value: (s) =>
                Number(s.Created) ? new Date(Number(s.Created) * 1000).toISOString().replace('.000Z', 'Z') : '-',
            },
          ]) + '\n',
        );
      }),
    );

  simple(snap, 'rm', 'Delete', 'delete a snapshot (refused while protected)', 'deleted');
  simple(snap, 'protect', 'Protect', 'protect a snapshot: clonable, not deletable', 'protected');
  simple(snap, 'unprotect', 'Unprotect', 'unprotect a snapshot (refused while clones depend on it)', 'unprotected');
}
