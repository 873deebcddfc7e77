// The embedded engine for open qcow2 volumes: qemu-storage-daemon holds every exported volume and stacd
// drives it over QMP, so snapshot, resize, flatten (block-stream) and rollback work while a host writes.
//   node "stas-<id>"        the volume's qcow2 node (its backing chain is opened by QEMU from the header)
//   node "stas-<id>-file"   its file node
//   export "stas-nbd-<id>"  NBD export named <id> on the daemon's unix socket (userspace clients), or
//   export "stas-fuse-<id>" FUSE export on <run>/fuse/<id>, under a loop device nvmet serves as a block namespace
//                           (QEMU's FUSE file says st_blksize 1, which nvmet's file backend would turn into 1-byte
//                           LBAs that no host accepts; the loop device has 512-byte logical blocks).
// One or the other: QEMU's NBD server forbids resizing its node while the FUSE export requires it.
// What should be open is journaled in <state>/storage-daemon.json before each change; at attach, the
// daemon's nodes and exports are reconciled with it: missing ones re-created (daemon restarted, host
// rebooted), ones nobody wants removed (a crash between the QMP call and the journal write).
import { readFile, writeFile, unlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDaemon, connectIfRunning, daemonPaths, type DaemonPaths } from './process.js';
import { QmpClient, QmpCommandError, type QmpEvent } from './qmp.js';
import { runTool } from '../tool.js';
import { writeFileDurable } from '../../common/durable-file.js';
import { BackendError, BusyError, CancelledError, NotFoundError, AlreadyExistsError } from '../errors.js';
import type { OpContext } from '../backend.js';
import { log } from '../../common/log.js';

/** How the volume is served: NBD on the daemon's socket (userspace clients) or a FUSE file (nvmet). */
export type ExportKind = 'nbd' | 'fuse';

interface OpenRecord {
  path: string;
  export: ExportKind;
}
interface EngineState {
  version: 1;
  volumes: Record<string, OpenRecord>;
}

export interface EngineOptions {
  /** runtime directory of the daemon's sockets and FUSE mountpoints */
  runDir: string;
  /** the engine's journal of open volumes */
  stateFile: string;
  binary?: string;
  qemuImg?: string;
  /** per QMP command */
  commandTimeoutMs?: number;
  /** block-job progress polling period */
  pollMs?: number;
  /** flatten (block-stream) rate limit in bytes/s, so a flatten leaves hosts' I/O room; 0 = none */
  streamSpeed?: number;
}

interface NamedNode {
  'node-name': string;
  file: string;
  drv: string;
}
interface BlockExportInfo {
  id: string;
  type: string;
  'node-name': string;
  'shutting-down': boolean;
}
interface BlockJobInfo {
  device: string;
  type: string;
  len: number;
  offset: number;
  status: string;
}

export const nodeName = (id: string): string => `stas-${id}`;
const fileNode = (id: string): string => `stas-${id}-file`;
const nbdExportId = (id: string): string => `stas-nbd-${id}`;
const fuseExportId = (id: string): string => `stas-fuse-${id}`;
const streamJobId = (id: string): string => `stas-stream-${id}`;
const VOLUME_NODE = /^stas-([0-9a-f]+)$/;

export class StorageEngine {
  readonly paths: DaemonPaths;
  private state: EngineState = { version: 1, volumes: {} };
  private readonly qemuImg: string;
  private readonly pollMs: number;

  private qmpClient: QmpClient | undefined;
  private detached = false;
  private connecting: Promise<QmpClient> | undefined;

  private constructor(private readonly opts: EngineOptions) {
    this.paths = daemonPaths(opts.runDir);
    this.qemuImg = opts.qemuImg ?? 'qemu-img';
    this.pollMs = opts.pollMs ?? 250;
  }

  /**
   * Re-attaches to a running daemon and reconciles it with the journal; starts one only when the journal
   * says volumes should be open (a reboot, or a daemon that died). With nothing open and no daemon, none is
   * started until the first volume is opened. `report` says what was found and repaired.
   */
  static async attach(opts: EngineOptions): Promise<{ engine: StorageEngine; report: string[] }> {
    const engine = new StorageEngine(opts);
    await engine.loadState();
    const report: string[] = [];
    const running = await connectIfRunning(engine.paths);
    if (running) {
      engine.adopt(running);
      report.push(`attached to qemu-storage-daemon ${running.greeting.version}`);
      report.push(...(await engine.reconcile(running)));
    } else if (engine.openIds().length > 0) {
      await engine.client(report);
    } else report.push('qemu-storage-daemon not running; started when a volume is first opened');
    return { engine, report };
  }

  private adopt(qmp: QmpClient): void {
    this.qmpClient = qmp;
    qmp.once('close', (err?: Error) => {
      if (this.qmpClient !== qmp) return;
      this.qmpClient = undefined;
      if (err && !this.detached)
        log().warn({ err: err.message }, 'storage daemon connection lost; reconnecting at the next operation');
    });
  }

  /** the QMP connection, (re)started and reconciled when there is none */
  private async client(report: string[] = []): Promise<QmpClient> {
    if (this.qmpClient && !this.qmpClient.isClosed) return this.qmpClient;
    this.connecting ??= (async () => {
      try {
        const { qmp, started } = await ensureDaemon(this.paths, { binary: this.opts.binary });
        this.adopt(qmp);
        report.push(
          started ? 'started qemu-storage-daemon' : `attached to qemu-storage-daemon ${qmp.greeting.version}`,
        );
        report.push(...(await this.reconcile(qmp)));
        for (const line of report) log().info(`storage daemon: ${line}`);
        return qmp;
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  /** the NBD URI a userspace client (qemu-io, qemu-img) opens an exported volume with */
  nbdUri(id: string): string {
    return `nbd+unix:///${id}?socket=${this.paths.nbd}`;
  }

  isOpen(id: string): boolean {
    return id in this.state.volumes;
  }

  openIds(): string[] {
    return Object.keys(this.state.volumes);
  }

  // ---- journal -----------------------------------------------------------------------------------
  private async loadState(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.opts.stateFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const s = JSON.parse(text) as EngineState;
    if (s.version !== 1 || typeof s.volumes !== 'object' || s.volumes === null)
      throw new BackendError(`${this.opts.stateFile}: not a version 1 storage-daemon journal`);
    this.state = s;
  }

  private async saveState(): Promise<void> {
    await writeFileDurable(this.opts.stateFile, JSON.stringify(this.state, null, 1) + '\n', 0o640);
  }

  // ---- QMP helpers -------------------------------------------------------------------------------
  private async nodes(qmp?: QmpClient): Promise<NamedNode[]> {
    return (qmp ?? (await this.client())).execute<NamedNode[]>('query-named-block-nodes', { flat: true });
  }
  private async exports(qmp?: QmpClient): Promise<BlockExportInfo[]> {
    return (qmp ?? (await this.client())).execute<BlockExportInfo[]>('query-block-exports');
  }
  private async exec<T = unknown>(command: string, args?: Record<string, unknown>, qmp?: QmpClient): Promise<T> {
    return (qmp ?? (await this.client())).execute<T>(command, args);
  }

  /** node names and export ids stas made in the daemon (tests: "no orphan") */
  async inventory(): Promise<{ nodes: string[]; exports: string[] }> {
    const nodes = (await this.nodes()).map((n) => n['node-name']).filter((n) => n.startsWith('stas-'));
    const exports = (await this.exports()).map((e) => e.id).filter((n) => n.startsWith('stas-'));
    return { nodes: nodes.sort(), exports: exports.sort() };
  }

  private async addNode(id: string, path: string): Promise<void> {
    await this.exec('blockdev-add', {
      driver: 'qcow2',
      'node-name': nodeName(id),
      discard: 'unmap',
      file: { driver: 'file', 'node-name': fileNode(id), filename: path },
    });
  }

  private async addNbdExport(id: string): Promise<void> {
    await this.exec('block-export-add', {
      type: 'nbd',
      id: nbdExportId(id),
      'node-name': nodeName(id),
      name: id,
      writable: true,
    });
  }

  private async addFuseExport(id: string): Promise<string> {
    const mp = join(this.paths.fuse, id);
    // a daemon that died leaves its FUSE mount behind ("transport endpoint is not connected"): drop it
    const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
    if (mounts.split('\n').some((l) => l.split(' ')[1] === mp))
      await runTool('umount', ['-l', mp], { timeoutMs: 30_000 });
    // the mountpoint must be an existing regular file
    await writeFile(mp, '', { flag: 'a', mode: 0o600 });
    await this.exec('block-export-add', {
      type: 'fuse',
      id: fuseExportId(id),
      'node-name': nodeName(id),
      mountpoint: mp,
      writable: true,
      growable: false,
    });
    return mp;
  }

  /** removes an export and waits until QEMU has let go of it (connections closed, FUSE unmounted) */
  private async delExport(exportId: string): Promise<void> {
    const gone = (await this.client()).waitEvent(
      (e) => e.event === 'BLOCK_EXPORT_DELETED' && e.data.id === exportId,
      30_000,
      `deletion of export ${exportId}`,
    );
    try {
      await this.exec('block-export-del', { id: exportId, mode: 'hard' });
    } catch (e) {
      gone.catch(() => undefined);
      if (e instanceof QmpCommandError && /not found|No such export|does not exist/i.test(e.desc)) return;
      throw e;
    }
    await gone;
  }

  private async delNode(id: string): Promise<void> {
    for (const n of [nodeName(id), fileNode(id)]) {
      try {
        await this.exec('blockdev-del', { 'node-name': n });
      } catch (e) {
        if (e instanceof QmpCommandError && /Failed to find node|Cannot find node/i.test(e.desc)) continue;
        throw e;
      }
    }
  }

  private async reconcile(qmp: QmpClient): Promise<string[]> {
    const report: string[] = [];
    const nodes = new Set((await this.nodes(qmp)).map((n) => n['node-name']));
    const exps = new Map((await this.exports(qmp)).map((e) => [e.id, e]));
    // nodes stas made that the journal does not want: a crash came between the QMP call and the journal
    for (const n of nodes) {
      const m = VOLUME_NODE.exec(n);
      if (!m || this.isOpen(m[1])) continue;
      for (const e of exps.values()) if (e['node-name'] === n) await this.delExport(e.id);
      await this.delNode(m[1]);
      report.push(`removed orphan node ${n}`);
    }
    for (const [id, rec] of Object.entries(this.state.volumes)) {
      if (!nodes.has(nodeName(id))) {
        try {
          await stat(rec.path);
        } catch {
          delete this.state.volumes[id];
          await this.saveState();
          report.push(`volume ${id} is gone (${rec.path}); forgotten`);
          continue;
        }
        await this.addNode(id, rec.path);
        report.push(`re-opened ${id}`);
      }
      const want = rec.export === 'nbd' ? nbdExportId(id) : fuseExportId(id);
      if (!exps.has(want)) {
        await this.addExport(id, rec.export);
        report.push(`re-exported ${id} over ${rec.export.toUpperCase()}`);
      }
    }
    return report;
  }

  private async addExport(id: string, kind: ExportKind): Promise<void> {
    if (kind === 'nbd') await this.addNbdExport(id);
    else await this.addFuseExport(id);
  }

  exportOf(id: string): ExportKind | undefined {
    return this.state.volumes[id]?.export;
  }

  // ---- open / close ------------------------------------------------------------------------------
  /**
   * Opens a volume in the daemon with the given export (idempotent). An open volume asked for the other
   * kind switches: the old export goes first (its clients are disconnected), then the new one is added.
   */
  async open(id: string, path: string, kind: ExportKind = 'nbd'): Promise<void> {
    const cur = this.state.volumes[id];
    if (cur?.export === kind) return;
    // connect (and reconcile) before journaling a change: reconciling would apply it too
    await this.client();
    if (cur) {
      await this.delExport(cur.export === 'nbd' ? nbdExportId(id) : fuseExportId(id));
      cur.export = kind;
      await this.saveState();
      await this.addExport(id, kind).catch((e: unknown) => {
        throw mapQmpError(e, id);
      });
      return;
    }
    this.state.volumes[id] = { path, export: kind };
    await this.saveState();
    try {
      await this.addNode(id, path);
      await this.addExport(id, kind);
    } catch (e) {
      await this.teardown(id).catch(() => undefined);
      delete this.state.volumes[id];
      await this.saveState();
      throw mapQmpError(e, id);
    }
  }

  /**
   * Opens the volume (FUSE export) and returns the block device nvmet serves: a loop device over the FUSE file,
   * the one already there after a stacd restart. Not the FUSE file itself: QEMU reports the qcow2 node's request
   * alignment (1 byte) as its st_blksize, and nvmet's file backend takes the LBA size from it (LBADS 0: the kernel
   * host sees a 0-sector disk, nvme-stas's userspace host refuses the namespace).
   */
  async exportKernel(id: string, path: string): Promise<{ devicePath: string }> {
    await this.open(id, path, 'fuse');
    const file = join(this.paths.fuse, id);
    const dev =
      (await loopsOf(file))[0] ??
      (await runTool('losetup', ['--find', '--show', file], { timeoutMs: 60_000 })).stdout.trim();
    if (!dev.startsWith('/dev/')) throw new BackendError(`losetup gave no device for ${file}: "${dev}"`);
    return { devicePath: dev };
  }

  /** Closes a volume: exports removed (clients disconnected), nodes deleted, the image lock released. */
  async close(id: string): Promise<void> {
    if (!this.isOpen(id)) return;
    for (const dev of await loopsOf(join(this.paths.fuse, id)))
      await runTool('losetup', ['--detach', dev], { timeoutMs: 60_000 });
    await this.teardown(id);
    await unlink(join(this.paths.fuse, id)).catch(() => undefined);
    delete this.state.volumes[id];
    await this.saveState();
  }

  private async teardown(id: string): Promise<void> {
    await this.delExport(fuseExportId(id));
    await this.delExport(nbdExportId(id));
    await this.delNode(id);
  }

  // ---- online operations -------------------------------------------------------------------------
  async snapshot(id: string, snap: string): Promise<void> {
    await this.call(id, 'blockdev-snapshot-internal-sync', { device: nodeName(id), name: snap });
  }

  async deleteSnapshot(id: string, snap: string): Promise<void> {
    await this.call(id, 'blockdev-snapshot-delete-internal-sync', { device: nodeName(id), name: snap });
  }

  /** Grows an open volume. QEMU's NBD server forbids a resize under its exports (NBD cannot tell clients of a
   *  new size), so the NBD export is cycled around block_resize: its clients reconnect and see the new size.
   *  The FUSE file (nvmet's namespace) stays and simply reports the new length. */
  async resize(id: string, size: number): Promise<void> {
    const rec = this.state.volumes[id];
    if (!rec) throw new NotFoundError(`volume ${id} is not open in the storage daemon`);
    if (rec.export === 'fuse') {
      await this.call(id, 'block_resize', { 'node-name': nodeName(id), size });
      // the loop device keeps the size it read at attach until told
      for (const dev of await loopsOf(join(this.paths.fuse, id)))
        await runTool('losetup', ['--set-capacity', dev], { timeoutMs: 60_000 });
      return;
    }
    await this.delExport(nbdExportId(id));
    try {
      await this.call(id, 'block_resize', { 'node-name': nodeName(id), size });
    } finally {
      await this.addNbdExport(id);
    }
  }

  /** Copies the backing chain into the image (block-stream) and drops it; progress and cancel as a job. */
  async stream(id: string, ctx: OpContext = {}): Promise<void> {
    const job = streamJobId(id);
    const end = (await this.client()).waitEvent(
      (e) => ['BLOCK_JOB_COMPLETED', 'BLOCK_JOB_CANCELLED'].includes(e.event) && e.data.device === job,
      24 * 3600_000,
      `the end of block job ${job}`,
    );
    end.catch(() => undefined);
    await this.call(id, 'block-stream', {
      'job-id': job,
      device: nodeName(id),
      ...(this.opts.streamSpeed ? { speed: this.opts.streamSpeed } : {}),
    });
    const onAbort = (): void => {
      this.exec('block-job-cancel', { device: job, force: true }).catch((e: unknown) =>
        log().warn({ job, err: (e as Error).message }, 'block-job-cancel failed'),
      );
    };
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal?.aborted) onAbort();
    const poll = setInterval(() => {
      this.exec<BlockJobInfo[]>('query-block-jobs')
        .then((jobs) => {
          const j = jobs.find((x) => x.device === job);
          if (j && j.len > 0) ctx.onProgress?.((100 * j.offset) / j.len);
        })
        .catch(() => undefined);
    }, this.pollMs);
    let ev: QmpEvent;
    try {
      ev = await end;
    } finally {
      clearInterval(poll);
      ctx.signal?.removeEventListener('abort', onAbort);
    }
    if (ev.event === 'BLOCK_JOB_CANCELLED') throw new CancelledError(`flatten of ${id} cancelled (block job ${job})`);
    if (typeof ev.data.error === 'string') throw new BackendError(`block-stream of ${id}: ${ev.data.error}`);
  }

  /** true while the daemon runs the flatten job of a volume (after a stacd restart, say) */
  async streaming(id: string): Promise<boolean> {
    return (await this.exec<BlockJobInfo[]>('query-block-jobs')).some((j) => j.device === streamJobId(id));
  }

  /**
   * Reverts an open volume to an internal snapshot. QEMU has no online "apply snapshot" for one node, so the
   * volume is closed around `qemu-img snapshot -a`: its exports go away (NBD clients are disconnected and
   * reconnect to the same name; the FUSE file is re-mounted at the same path) and come back on the rolled
   * back image. The journal keeps the volume wanted throughout, so a crash half-way re-opens it at attach.
   */
  async rollback(id: string, snap: string, ctx: OpContext = {}): Promise<void> {
    const rec = this.state.volumes[id];
    if (!rec) throw new NotFoundError(`volume ${id} is not open in the storage daemon`);
    await this.teardown(id);
    try {
      await runTool(this.qemuImg, ['snapshot', '-q', '-a', snap, rec.path], { timeoutMs: 120_000, signal: ctx.signal });
    } finally {
      await this.addNode(id, rec.path);
      await this.addExport(id, rec.export);
    }
  }

  private async call(id: string, command: string, args: Record<string, unknown>): Promise<unknown> {
    if (!this.isOpen(id)) throw new NotFoundError(`volume ${id} is not open in the storage daemon`);
    try {
      return await this.exec(command, args);
    } catch (e) {
      throw mapQmpError(e, id);
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------------
  /** stacd stops: the daemon and its exports stay. */
  detach(): void {
    this.detached = true;
    this.qmpClient?.close();
  }

  /** Stops the daemon (tests, and hosts that no longer serve volumes): everything is closed first. */
  async shutdown(): Promise<void> {
    for (const id of this.openIds()) await this.close(id);
    const qmp = this.qmpClient;
    if (!qmp) return;
    const gone = new Promise<void>((r) => qmp.once('close', () => r()));
    await qmp.execute('quit').catch(() => undefined);
    await gone;
  }
}

/** loop devices attached to `file` (losetup -j), none when the file or losetup's answer is missing */
async function loopsOf(file: string): Promise<string[]> {
  const r = await runTool('losetup', ['--noheadings', '--output', 'NAME', '--associated', file], {
    timeoutMs: 60_000,
  }).catch(() => ({ stdout: '' }));
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('/dev/'));
}

function mapQmpError(e: unknown, id: string): unknown {
  if (!(e instanceof QmpCommandError)) return e;
  if (/already exists|Duplicate/i.test(e.desc)) return new AlreadyExistsError(`${id}: ${e.desc}`);
  if (/Failed to get .*lock|Is another process using the image/i.test(e.desc))
    return new BusyError(`image of ${id} is in use by another process: ${e.desc}`);
  if (/not found|Can't find|does not exist/i.test(e.desc)) return new NotFoundError(`${id}: ${e.desc}`);
  return new BackendError(e.message);
}
