// stacctl volume create|ls|show|resize|rename|clone|flatten|rollback|rm|usage — over D-Bus (Storage1/Volume1).
// Long operations wait for their job by default (progress bar on a terminal); --no-wait returns the job id.
import { Command } from 'commander';
import dbus from 'dbus-next';
import { CliError, EXIT, type DaemonClient } from '../common/client.js';
import { table, keyValues, printJson, runCommand } from '../common/output.js';
import { parseSize, formatSize } from '../../daemons/volumes/size.js';
import {
  storageClient,
  group,
  getAll,
  managedObjects,
  volumePathOf,
  finishJob,
  STORAGE_PATH,
  STORAGE_IFACE,
  VOLUME_IFACE,
  type Props,
} from './job.js';

interface QosOpts {
  qosIops?: string;
  qosIopsBurst?: string;
  qosBps?: string;
  qosBpsBurst?: string;
  priority?: string;
}

/** what --force does, consequence first: hosts using an exported volume see its data change under them */
const FORCE_HELP = {
  resize:
    'shrink even while the volume is exported through an access path: hosts using it lose the data beyond the new size, under their feet',
  rollback:
    'roll back even while the volume is exported through an access path: the data under the hosts using it is replaced (disconnect them first)',
  rm: 'also delete its snapshots, and delete it even while it is exported through an access path: the hosts using it lose it',
};

function count(text: string, flag: string): bigint {
  if (!/^\d+$/.test(text)) throw new CliError(`${flag}: "${text}" is not a whole number ≥ 0`, EXIT.USAGE, 'usage');
  return BigInt(text);
}

function size(text: string, flag = '--size'): bigint {
  try {
    return BigInt(parseSize(text, flag));
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.USAGE, 'usage');
  }
}

function qosOptions(o: QosOpts): Record<string, dbus.Variant> {
  const out: Record<string, dbus.Variant> = {};
  if (o.qosIops !== undefined) out.qos_iops = new dbus.Variant('t', count(o.qosIops, '--qos-iops'));
  if (o.qosIopsBurst !== undefined)
    out.qos_iops_burst = new dbus.Variant('t', count(o.qosIopsBurst, '--qos-iops-burst'));
  if (o.qosBps !== undefined) out.qos_bps = new dbus.Variant('t', size(o.qosBps, '--qos-bps'));
  if (o.qosBpsBurst !== undefined) out.qos_bps_burst = new dbus.Variant('t', size(o.qosBpsBurst, '--qos-bps-burst'));
  if (o.priority !== undefined) out.performance_priority = new dbus.Variant('s', o.priority);
  return out;
}

function withQos(c: Command): Command {
  return c
    .option('--qos-iops <n>', 'max IOPS (0 = unlimited)')
    .option('--qos-iops-burst <n>', 'burst IOPS')
    .option('--qos-bps <size>', 'max bandwidth per second (e.g. 100M)')
    .option('--qos-bps-burst <size>', 'burst bandwidth per second')
    .option('--priority <normal|high>', 'performance priority');
}

function withWait(c: Command): Command {
  return c.option('--no-wait', 'return the job id at once').option('--json', 'JSON output');
}

function describe(v: Props): Record<string, unknown> {
  return {
    name: v.Name,
    id: v.Id,
    pool: v.Pool,
    backend: v.Backend,
    size: formatSize(Number(v.Size)),
    allocated: formatSize(Number(v.Allocated)),
    parent: v.Parent || '-',
    snapshots: v.SnapshotCount,
    qos: {
      iops: Number(v.QosIops) || 'unlimited',
      'iops burst': Number(v.QosIopsBurst) || '-',
      bandwidth: Number(v.QosBps) ? `${formatSize(Number(v.QosBps))}/s` : 'unlimited',
      'bandwidth burst': Number(v.QosBpsBurst) ? `${formatSize(Number(v.QosBpsBurst))}/s` : '-',
    },
    priority: v.PerformancePriority,
    created: Number(v.Created) ? new Date(Number(v.Created) * 1000).toISOString().replace('.000Z', 'Z') : '-',
  };
}

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

export function register(program: Command): void {
  const vol = group(program, 'volume', 'volumes (qcow2 files or Ceph RBD images)');

  withQos(vol.command('create <name>').description('create a volume'))
    .requiredOption('--size <size>', 'size, e.g. 10G, 1.5TiB (at most 512 TiB, a multiple of 512 bytes)')
    .option('--pool <pool>', 'pool (the first configured one by default)')
    .option('--json', 'JSON output')
    .action((name: string, o: QosOpts & { size: string; pool?: string; json?: boolean }) =>
      withClient(o.json, async (client) => {
        const opts = qosOptions(o);
        if (o.pool) opts.pool = new dbus.Variant('s', o.pool);
        const [path] = await client.call(
          STORAGE_IFACE,
          'CreateVolume',
          'sta{sv}',
          [name, size(o.size), opts],
          STORAGE_PATH,
        );
        const v = await getAll(client, String(path), VOLUME_IFACE);
        if (o.json) printJson(v);
        else process.stdout.write(`created ${v.Name} (${formatSize(Number(v.Size))}, pool ${v.Pool})\n`);
      }),
    );

  vol
    .command('ls')
    .description('list volumes')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withClient(o.json, async (client) => {
        const objs = await managedObjects(client);
        const vols = Object.values(objs)
          .map((i) => i[VOLUME_IFACE])
          .filter((v): v is Props => v !== undefined)
          .sort((a, b) => String(a.Name).localeCompare(String(b.Name)));
        if (o.json) return printJson(vols);
        process.stdout.write(
          table(vols, [
            { header: 'NAME', value: (v) => String(v.Name) },
            { header: 'POOL', value: (v) => String(v.Pool) },
            { header: 'BACKEND', value: (v) => String(v.Backend) },
            { header: 'SIZE', value: (v) => formatSize(Number(v.Size)), align: 'right' },
            { header: 'ALLOCATED', value: (v) => formatSize(Number(v.Allocated)), align: 'right' },
            { header: 'SNAPS', value: (v) => String(v.SnapshotCount), align: 'right' },
            { header: 'PARENT', value: (v) => String(v.Parent || '-') },
          ]) + '\n',
        );
      }),
    );

  vol
    .command('show <name>')
    .description('show a volume, with its usage')
    .option('--json', 'JSON output')
    .action((name: string, o: { json?: boolean }) =>
      withClient(o.json, async (client) => {
        const path = await volumePathOf(client, name);
        const v = await getAll(client, path, VOLUME_IFACE);
        const [prov, alloc, per] = await client.call(VOLUME_IFACE, 'Usage', '', [], path);
        const usage = {
          provisioned: Number(prov),
          allocated: Number(alloc),
          snapshots: (per as [string, bigint, bigint][]).map(([s, p, a]) => ({
            snapshot: s,
            provisioned: Number(p),
            allocated: Number(a),
          })),
        };
        if (o.json) return printJson({ ...v, Usage: usage });
        process.stdout.write(keyValues(describe(v)) + '\n');
        if (usage.snapshots.length)
          process.stdout.write(
            '\n' +
              table(usage.snapshots, [
                { header: 'SNAPSHOT', value: (s) => s.snapshot },
                { header: 'PROVISIONED', value: (s) => formatSize(s.provisioned), align: 'right' },
                { header: 'ALLOCATED', value: (s) => formatSize(s.allocated), align: 'right' },
              ]) +
              '\n',
          );
      }),
    );

  withWait(
    vol
      .command('resize <name> <size>')
      .description('grow a volume (shrink only with --allow-shrink, never while attached)'),
  )
    .option('--allow-shrink', 'allow a smaller size (data beyond it is lost)')
    .option('--force', FORCE_HELP.resize)
    .action((name: string, sz: string, o: { allowShrink?: boolean; force?: boolean; wait?: boolean; json?: boolean }) =>
      withClient(o.json, async (client) => {
        const [job] = await client.call(
          VOLUME_IFACE,
          'Resize',
          'tbb',
          [size(sz, 'size'), o.allowShrink === true, o.force === true],
          await volumePathOf(client, name),
        );
        await finishJob(client, String(job), o, `resize ${name}`);
      }),
    );

  vol
    .command('rename <name> <new-name>')
    .description('rename a volume')
    .option('--json', 'JSON output')
    .action((name: string, newName: string, o: { json?: boolean }) =>
      withClient(o.json, async (client) => {
        await client.call(VOLUME_IFACE, 'Rename', 's', [newName], await volumePathOf(client, name));
        if (o.json) printJson({ renamed: name, to: newName });
        else process.stdout.write(`renamed ${name} to ${newName}\n`);
      }),
    );

  withWait(
    withQos(
      vol.command('clone <volume> <snapshot> <target>').description('clone a protected snapshot into a new volume'),
    ),
  )
    .option('--flatten', 'copy all data now (no dependency on the snapshot)')
    .action(
      (
        volume: string,
        snapshot: string,
        target: string,
        o: QosOpts & { flatten?: boolean; wait?: boolean; json?: boolean },
      ) =>
        withClient(o.json, async (client) => {
          const opts = qosOptions(o);
          if (o.flatten) opts.flatten = new dbus.Variant('b', true);
          const [job] = await client.call(
            VOLUME_IFACE,
            'Clone',
            'ssa{sv}',
            [snapshot, target, opts],
            await volumePathOf(client, volume),
          );
          await finishJob(client, String(job), o, `clone ${volume}@${snapshot} -> ${target}`);
        }),
    );

  withWait(vol.command('flatten <name>').description("copy a clone's parent data into it and detach it")).action(
    (name: string, o: { wait?: boolean; json?: boolean }) =>
      withClient(o.json, async (client) => {
        const [job] = await client.call(VOLUME_IFACE, 'Flatten', '', [], await volumePathOf(client, name));
        await finishJob(client, String(job), o, `flatten ${name}`);
      }),
  );

  withWait(
    vol
      .command('rollback <volume> <snapshot>')
      .description('revert a volume to a snapshot (a backup snapshot is taken first)'),
  )
    .option('--force', FORCE_HELP.rollback)
    .action((volume: string, snapshot: string, o: { force?: boolean; wait?: boolean; json?: boolean }) =>
      withClient(o.json, async (client) => {
        const [job] = await client.call(
          VOLUME_IFACE,
          'Rollback',
          'sb',
          [snapshot, o.force === true],
          await volumePathOf(client, volume),
        );
        await finishJob(client, String(job), o, `rollback ${volume} to ${snapshot} (backup snapshot)`);
      }),
    );

  withWait(
    vol
      .command('rm <name>')
      .description('delete a volume (refused with snapshots unless --force; refused with clones or while attached)'),
  )
    .option('--force', FORCE_HELP.rm)
    .action((name: string, o: { force?: boolean; wait?: boolean; json?: boolean }) =>
      withClient(o.json, async (client) => {
        const [job] = await client.call(
          VOLUME_IFACE,
          'Delete',
          'b',
          [o.force === true],
          await volumePathOf(client, name),
        );
        await finishJob(client, String(job), o, `delete ${name}`);
      }),
    );
}
