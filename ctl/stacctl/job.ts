// stacctl job ls|show|cancel|wait, and what volume/snapshot commands share: the storage D-Bus client,
// property reads, and waiting for a job with a progress bar on a terminal.
import { Command } from 'commander';
import { DaemonClient, STACD, CliError, EXIT } from '../common/client.js';
import { table, keyValues, printJson, runCommand } from '../common/output.js';

export const STORAGE_PATH = '/org/nvmexpress/stac/storage';
export const STORAGE_IFACE = 'org.nvmexpress.stac.Storage1';
export const VOLUME_IFACE = 'org.nvmexpress.stac.Volume1';
export const SNAPSHOT_IFACE = 'org.nvmexpress.stac.Snapshot1';
export const JOB_IFACE = 'org.nvmexpress.stac.Job1';
const PROPS = 'org.freedesktop.DBus.Properties';

export type Props = Record<string, unknown>;

/** storage calls can take a while (protect materialises a base); jobs return at once */
export function storageClient(): DaemonClient {
  return new DaemonClient(STACD, 120_000);
}

/** the child command `name` of `parent`, created if no other module registered it yet */
export function group(parent: Command, name: string, description: string): Command {
  return parent.commands.find((c) => c.name() === name) ?? parent.command(name).description(description);
}

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object' && 'value' in v && 'signature' in v) return plain((v as { value: unknown }).value);
  return v;
}

export async function getAll(client: DaemonClient, path: string, iface: string): Promise<Props> {
  const [all] = await client.call(PROPS, 'GetAll', 's', [iface], path);
  const out: Props = {};
  for (const [k, v] of Object.entries(all as Record<string, unknown>)) out[k] = plain(v);
  return out;
}

export async function managedObjects(client: DaemonClient): Promise<Record<string, Record<string, Props>>> {
  const [objs] = await client.call('org.freedesktop.DBus.ObjectManager', 'GetManagedObjects', '', [], STORAGE_PATH);
  const out: Record<string, Record<string, Props>> = {};
  for (const [path, ifaces] of Object.entries(objs as Record<string, Record<string, Record<string, unknown>>>)) {
    out[path] = {};
    for (const [iface, props] of Object.entries(ifaces)) {
      const p: Props = {};
      for (const [k, v] of Object.entries(props)) p[k] = plain(v);
      out[path][iface] = p;
    }
  }
  return out;
}

export async function volumePathOf(client: DaemonClient, name: string): Promise<string> {
  const [p] = await client.call(STORAGE_IFACE, 'FindVolumeByName', 's', [name], STORAGE_PATH);
  return String(p);
}

export async function snapshotPathOf(client: DaemonClient, volume: string, snap: string): Promise<string> {
  const vp = await volumePathOf(client, volume);
  const [p] = await client.call(VOLUME_IFACE, 'FindSnapshot', 's', [snap], vp);
  return String(p);
}

function jobPathOf(id: string): string {
  return id.startsWith('/')
    ? id
    : `${STORAGE_PATH}/job/${id.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
}

/** the job's path, or "job X not found" (finished jobs are forgotten after a while) */
async function existingJob(client: DaemonClient, id: string): Promise<string> {
  const path = jobPathOf(id);
  const [objs] = await client.call('org.freedesktop.DBus.ObjectManager', 'GetManagedObjects', '', [], STORAGE_PATH);
  if (!(objs as Record<string, unknown>)[path])
    throw new CliError(`job ${id} not found (finished jobs are kept for an hour)`, EXIT.FAILURE, 'not-found');
  return path;
}

function bar(pct: number, width = 30): string {
  const n = Math.round((pct / 100) * width);
  return `[${'#'.repeat(n)}${' '.repeat(width - n)}] ${String(pct).padStart(3)}%`;
}

/** Polls the job until it ends; a progress bar on stderr when it is a terminal (and not --json). */
export async function waitForJob(
  client: DaemonClient,
  jobPath: string,
  opts: { json?: boolean; quiet?: boolean } = {},
): Promise<Props> {
  const tty = process.stderr.isTTY && !opts.json && !opts.quiet;
  for (;;) {
    const p = await getAll(client, jobPath, JOB_IFACE);
    const state = String(p.State);
    if (tty) process.stderr.write(`\r${bar(Number(p.Progress))} ${p.Operation} ${p.Object} (${state})\x1b[K`);
    if (state !== 'queued' && state !== 'running') {
      if (tty) process.stderr.write('\n');
      return p;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits (unless --no-wait), prints the outcome, and turns a failed job into an error exit. */
export async function finishJob(
  client: DaemonClient,
  jobPath: string,
  opts: { wait?: boolean; json?: boolean },
  what: string,
): Promise<void> {
  if (opts.wait === false) {
    const p = await getAll(client, jobPath, JOB_IFACE);
    if (opts.json) printJson({ job: p.Id, path: jobPath, state: p.State });
    else process.stdout.write(`${what}: job ${p.Id} ${p.State} (stacctl job wait ${p.Id})\n`);
    return;
  }
  const p = await waitForJob(client, jobPath, opts);
  if (opts.json) printJson({ job: p.Id, state: p.State, result: p.Result, error: p.Error, errorName: p.ErrorName });
  if (p.State !== 'succeeded')
    throw new CliError(`${what}: ${p.State}: ${p.Error} (${p.ErrorName})`, EXIT.FAILURE, 'job-failed');
  if (!opts.json) process.stdout.write(`${what}: done${p.Result ? ` (${p.Result})` : ''}\n`);
}

function fmtTime(s: unknown): string {
  const n = Number(s);
  return n > 0 ? new Date(n * 1000).toISOString().replace('.000Z', 'Z') : '-';
}

export function register(program: Command): void {
  const job = group(program, 'job', 'long volume operations (clone, flatten, rollback, delete, resize)');
  job
    .command('ls')
    .description('list jobs')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const client = storageClient();
        try {
          const objs = await managedObjects(client);
          const jobs = Object.values(objs)
            .map((i) => i[JOB_IFACE])
            .filter((j): j is Props => j !== undefined)
            .sort((a, b) => Number(a.Created) - Number(b.Created));
          if (o.json) return printJson(jobs);
          process.stdout.write(
            table(jobs, [
              { header: 'ID', value: (j) => String(j.Id) },
              { header: 'OPERATION', value: (j) => String(j.Operation) },
              { header: 'OBJECT', value: (j) => String(j.Object) },
              { header: 'STATE', value: (j) => String(j.State) },
              { header: 'PROGRESS', value: (j) => `${j.Progress}%`, align: 'right' },
              { header: 'RESULT', value: (j) => String(j.Result || j.Error || '') },
            ]) + '\n',
          );
        } finally {
          client.close();
        }
      }),
    );
  job
    .command('show <id>')
    .description('show one job')
    .option('--json', 'JSON output')
    .action((id: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const client = storageClient();
        try {
          const p = await getAll(client, await existingJob(client, id), JOB_IFACE);
          if (o.json) return printJson(p);
          process.stdout.write(keyValues({ ...p, Created: fmtTime(p.Created), Finished: fmtTime(p.Finished) }) + '\n');
        } finally {
          client.close();
        }
      }),
    );
  job
    .command('cancel <id>')
    .description('cancel a queued job, or stop a running one that can be cancelled')
    .option('--json', 'JSON output')
    .action((id: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const client = storageClient();
        try {
          const path = await existingJob(client, id);
          await client.call(JOB_IFACE, 'Cancel', '', [], path);
          const p = await waitForJob(client, path, { json: o.json, quiet: true });
          if (o.json) printJson({ job: p.Id, state: p.State });
          else process.stdout.write(`job ${p.Id}: ${p.State}\n`);
        } finally {
          client.close();
        }
      }),
    );
  job
    .command('wait <id>')
    .description('wait for a job to end (progress bar on a terminal); exit 1 unless it succeeded')
    .option('--json', 'JSON output')
    .action((id: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const client = storageClient();
        try {
          await finishJob(client, await existingJob(client, id), { wait: true, json: o.json }, `job ${id}`);
        } finally {
          client.close();
        }
      }),
    );
}
