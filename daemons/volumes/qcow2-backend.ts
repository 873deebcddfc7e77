// qcow2 files driven by qemu-img: the embedded backend (recipe §2.1).
//   <root>/volumes/<id>.qcow2        the volume; snapshots are qcow2 internal snapshots (metadata-only ops)
//   <root>/bases/<id>@<snap>.qcow2   a protected snapshot materialised read-only; clones are overlays on it
//   <root>/meta/<id>.json            name, QoS, priority, lineage, per-snapshot size (atomically replaced)
// Volumes are stored under a generated id so a rename is one atomic metadata write and clones (which
// reference bases by relative path) never notice it.
import { access, chmod, mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Backend, OpContext, SnapshotInfo, Usage, UsageEntry, VolumeInfo, VolumeMeta } from './backend.js';
import { DEFAULT_META } from './backend.js';
import { runTool, parseQemuProgress, ToolFailure, type ToolOptions } from './tool.js';
import { AlreadyExistsError, BusyError, NotFoundError, NotSupportedError, BackendError } from './errors.js';
import { writeFileDurable, unlinkDurable, fsyncFile, fsyncDir } from '../common/durable-file.js';
import type { JournalEntry } from '../jobs/journal.js';
import { log } from '../common/log.js';
import type { StorageEngine } from './storage-daemon/engine.js';

export interface Qcow2Options {
  pool: string;
  root: string;
  /** bound for quick qemu-img calls (info, snapshot, resize) */
  timeoutMs?: number;
  /** bound for data-moving calls (convert, rebase) */
  longTimeoutMs?: number;
  qemuImg?: string;
}

interface SnapshotMeta {
  size: number;
  createdAt: number;
  /** for a protected snapshot: the base file its base is layered on ("<id>@<snap>.qcow2"), or null */
  baseBacking?: string | null;
}

/** The sidecar file, one per volume. */
interface Qcow2Sidecar {
  version: 1;
  id: string;
  name: string;
  createdAt: number;
  meta: VolumeMeta;
  /** the protected snapshot this volume is an overlay on, until flattened */
  parent: { volumeId: string; snapshot: string } | null;
  snapshots: Record<string, SnapshotMeta>;
}

interface QemuSnapshotJson {
  name: string;
  'date-sec': number;
}
interface QemuInfoJson {
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  snapshots?: QemuSnapshotJson[];
}

const CREATE_OPTS = 'compat=1.1,cluster_size=64k,lazy_refcounts=off';

function newId(): string {
  return randomBytes(8).toString('hex');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export class Qcow2Backend implements Backend {
  readonly kind = 'qcow2' as const;
  readonly pool: string;
  readonly location: string;
  private readonly volDir: string;
  private readonly baseDir: string;
  private readonly metaDir: string;
  private readonly timeoutMs: number;
  private readonly longTimeoutMs: number;
  private readonly qemuImg: string;
  /** name → sidecar; the sidecar files are the truth, this is their in-memory copy */
  private readonly byName = new Map<string, Qcow2Sidecar>();
  private readonly byId = new Map<string, Qcow2Sidecar>();
  /** holds the volumes that are open (exported); online operations on those go through it */
  private engine: StorageEngine | undefined;

  constructor(opts: Qcow2Options) {
    this.pool = opts.pool;
    this.location = opts.root;
    this.volDir = join(opts.root, 'volumes');
    this.baseDir = join(opts.root, 'bases');
    this.metaDir = join(opts.root, 'meta');
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.longTimeoutMs = opts.longTimeoutMs ?? 12 * 3600_000;
    this.qemuImg = opts.qemuImg ?? 'qemu-img';
  }

  /** Online operations on open volumes go through the storage daemon from now on. */
  useEngine(engine: StorageEngine): void {
    this.engine = engine;
  }

  /** the engine holding this volume open, or undefined when it is offline */
  private online(id: string): StorageEngine | undefined {
    return this.engine?.isOpen(id) ? this.engine : undefined;
  }

  heldByEngine(name: string): boolean {
    return this.online(this.side(name).id) !== undefined;
  }

  private needEngine(): StorageEngine {
    if (!this.engine)
      throw new NotSupportedError(`pool "${this.pool}": the storage daemon (qemu-storage-daemon) is not running`);
    return this.engine;
  }

  /** Opens the volume in the storage daemon and exports it for nvmet (a FUSE file). Idempotent. */
  async exportVolume(name: string): Promise<{ devicePath: string }> {
    const side = this.side(name);
    return this.needEngine().exportKernel(side.id, this.volumePath(side.id));
  }

  /** Opens the volume in the storage daemon (NBD export); returns the NBD URI of userspace clients. */
  async openVolume(name: string): Promise<{ nbdUri: string }> {
    const side = this.side(name);
    const engine = this.needEngine();
    await engine.open(side.id, this.volumePath(side.id));
    return { nbdUri: engine.nbdUri(side.id) };
  }

  /** Closes the volume in the storage daemon (every export goes): it is offline again. Idempotent. */
  async closeVolume(name: string): Promise<void> {
    await this.engine?.close(this.side(name).id);
  }

  // ---- paths -------------------------------------------------------------------------------------
  volumePath(id: string): string {
    return join(this.volDir, `${id}.qcow2`);
  }
  private basePath(id: string, snap: string): string {
    return join(this.baseDir, baseFileName(id, snap));
  }
  private metaPath(id: string): string {
    return join(this.metaDir, `${id}.json`);
  }

  // ---- lifecycle ---------------------------------------------------------------------------------
  async open(): Promise<void> {
    for (const d of [this.volDir, this.baseDir, this.metaDir]) await mkdir(d, { recursive: true, mode: 0o750 });
    this.byName.clear();
    this.byId.clear();
    for (const f of await readdir(this.metaDir)) {
      if (!f.endsWith('.json')) continue;
      const path = join(this.metaDir, f);
      try {
        const side = JSON.parse(await readFile(path, 'utf8')) as Qcow2Sidecar;
        if (side.version !== 1 || typeof side.id !== 'string' || typeof side.name !== 'string')
          throw new Error('not a version 1 sidecar');
        side.snapshots ??= {};
        side.meta ??= structuredClone(DEFAULT_META);
        this.byName.set(side.name, side);
        this.byId.set(side.id, side);
      } catch (e) {
        log().error({ file: path, err: (e as Error).message }, 'volume metadata unreadable; volume ignored');
      }
    }
  }

  /** Leftovers of writes that never reached their rename: never visible, always safe to drop. */
  async removeTempFiles(): Promise<string[]> {
    const removed: string[] = [];
    for (const d of [this.volDir, this.baseDir, this.metaDir]) {
      for (const f of await readdir(d)) {
        if (f.endsWith('.tmp')) {
          await unlink(join(d, f)).catch(() => undefined);
          removed.push(join(d, f));
        }
      }
    }
    return removed;
  }

  // ---- tool wrappers -----------------------------------------------------------------------------
  private async qemu(args: string[], opts: Partial<ToolOptions> = {}): Promise<string> {
    try {
      const r = await runTool(this.qemuImg, args, { timeoutMs: this.timeoutMs, ...opts });
      return r.stdout;
    } catch (e) {
      throw mapQemuError(e);
    }
  }

  private async info(path: string, force = true): Promise<QemuInfoJson> {
    const out = await this.qemu(['info', ...(force ? ['-U'] : []), '--output=json', '-f', 'qcow2', path]);
    return JSON.parse(out) as QemuInfoJson;
  }

  private side(name: string): Qcow2Sidecar {
    const s = this.byName.get(name);
    if (!s) throw new NotFoundError(`volume "${name}" not found in pool "${this.pool}"`);
    return s;
  }

  private async saveSide(side: Qcow2Sidecar): Promise<void> {
    await writeFileDurable(this.metaPath(side.id), JSON.stringify(side, null, 1) + '\n', 0o640);
  }

  private async toInfo(side: Qcow2Sidecar): Promise<VolumeInfo> {
    const qi = await this.info(this.volumePath(side.id));
    let parent: VolumeInfo['parent'] = null;
    if (side.parent) {
      const p = this.byId.get(side.parent.volumeId);
      parent = { volume: p?.name ?? `(deleted ${side.parent.volumeId})`, snapshot: side.parent.snapshot };
    }
    return {
      id: side.id,
      name: side.name,
      pool: this.pool,
      backend: 'qcow2',
      size: qi['virtual-size'],
      allocated: qi['actual-size'] ?? 0,
      parent,
      snapshotCount: qi.snapshots?.length ?? 0,
      meta: structuredClone(side.meta),
      createdAt: side.createdAt,
    };
  }

  // ---- volumes -----------------------------------------------------------------------------------
  async listVolumes(): Promise<VolumeInfo[]> {
    const out: VolumeInfo[] = [];
    for (const side of this.byName.values()) {
      try {
        out.push(await this.toInfo(side));
      } catch (e) {
        log().warn({ volume: side.name, err: (e as Error).message }, 'volume unreadable; left out of the list');
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async getVolume(name: string): Promise<VolumeInfo> {
    return this.toInfo(this.side(name));
  }

  async hasVolume(name: string): Promise<boolean> {
    return this.byName.has(name);
  }

  /** id of a volume, for tests and tooling that look at the files */
  idOf(name: string): string {
    return this.side(name).id;
  }

  async createVolume(name: string, size: number, meta: VolumeMeta, ctx: OpContext = {}): Promise<void> {
    if (this.byName.has(name)) throw new AlreadyExistsError(`volume "${name}" already exists in pool "${this.pool}"`);
    const id = newId();
    await ctx.step?.('create-file', { id });
    const final = this.volumePath(id);
    const tmp = `${final}.tmp`;
    await this.qemu(['create', '-q', '-f', 'qcow2', '-o', CREATE_OPTS, tmp, String(size)]);
    const side: Qcow2Sidecar = {
      version: 1,
      id,
      name,
      createdAt: Math.floor(Date.now() / 1000),
      meta: structuredClone(meta),
      parent: null,
      snapshots: {},
    };
    await this.commitNewImage(tmp, final, side);
  }

  /** metadata first, then the image appears under its final name: a visible image always has its sidecar */
  private async commitNewImage(tmp: string, final: string, side: Qcow2Sidecar): Promise<void> {
    try {
      await this.saveSide(side);
      await fsyncFile(tmp);
      await rename(tmp, final);
      await fsyncDir(this.volDir);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      await unlinkDurable(this.metaPath(side.id)).catch(() => undefined);
      throw e;
    }
    this.byName.set(side.name, side);
    this.byId.set(side.id, side);
  }

  async deleteVolume(name: string, ctx: OpContext = {}): Promise<void> {
    const side = this.side(name);
    await ctx.step?.('remove-bases', { id: side.id });
    await this.removeVolumeFiles(side.id, ctx);
    this.byName.delete(side.name);
    this.byId.delete(side.id);
  }

  /** removes a volume's bases (those nothing depends on), image and sidecar; idempotent */
  private async removeVolumeFiles(id: string, ctx: OpContext = {}): Promise<void> {
    for (const f of await readdir(this.baseDir)) {
      if (!f.startsWith(`${id}@`) || !f.endsWith('.qcow2')) continue;
      const dependents = this.dependentsOfBase(f);
      if (dependents.length > 0) {
        log().warn({ base: f, dependents }, 'base kept: other volumes depend on it');
        continue;
      }
      await unlinkDurable(join(this.baseDir, f));
    }
    await ctx.step?.('remove-image');
    await unlinkDurable(this.volumePath(id));
    await unlinkDurable(this.metaPath(id));
  }

  async resizeVolume(name: string, size: number, allowShrink: boolean, ctx: OpContext = {}): Promise<void> {
    const side = this.side(name);
    await ctx.step?.('resize', { id: side.id });
    const engine = this.online(side.id);
    if (engine) return engine.resize(side.id, size);
    await this.qemu(
      ['resize', '-q', '-f', 'qcow2', ...(allowShrink ? ['--shrink'] : []), this.volumePath(side.id), String(size)],
      {
        signal: ctx.signal,
      },
    );
  }

  async renameVolume(from: string, to: string): Promise<void> {
    const side = this.side(from);
    if (this.byName.has(to)) throw new AlreadyExistsError(`volume "${to}" already exists in pool "${this.pool}"`);
    const next = { ...side, name: to };
    await this.saveSide(next);
    this.byName.delete(from);
    this.byName.set(to, next);
    this.byId.set(next.id, next);
  }

  async setMeta(name: string, meta: VolumeMeta): Promise<void> {
    const side = this.side(name);
    const next = { ...side, meta: structuredClone(meta) };
    await this.saveSide(next);
    this.byName.set(name, next);
    this.byId.set(next.id, next);
  }

  /** QEMU-family consumers hold an OFD write lock; `qemu-img info` without -U fails while they do. */
  async isAttached(name: string): Promise<boolean> {
    const side = this.side(name);
    if (this.online(side.id)) return true;
    try {
      await this.info(this.volumePath(side.id), false);
      return false;
    } catch (e) {
      if (e instanceof BusyError) return true;
      throw e;
    }
  }

  // ---- snapshots ---------------------------------------------------------------------------------
  async listSnapshots(name: string): Promise<SnapshotInfo[]> {
    const side = this.side(name);
    const qi = await this.info(this.volumePath(side.id));
    const out: SnapshotInfo[] = [];
    for (const s of qi.snapshots ?? []) {
      out.push({
        name: s.name,
        volume: side.name,
        size: side.snapshots[s.name]?.size ?? qi['virtual-size'],
        protected: await exists(this.basePath(side.id, s.name)),
        createdAt: s['date-sec'],
      });
    }
    return out;
  }

  async createSnapshot(name: string, snap: string, ctx: OpContext = {}): Promise<void> {
    const side = this.side(name);
    await ctx.step?.('snapshot-create', { id: side.id });
    const qi = await this.info(this.volumePath(side.id));
    if ((qi.snapshots ?? []).some((s) => s.name === snap))
      throw new AlreadyExistsError(`snapshot "${name}@${snap}" already exists`);
    const engine = this.online(side.id);
    if (engine) await engine.snapshot(side.id, snap);
    else await this.qemu(['snapshot', '-q', '-c', snap, this.volumePath(side.id)]);
    const next = structuredClone(this.side(name));
    next.snapshots[snap] = { size: qi['virtual-size'], createdAt: Math.floor(Date.now() / 1000) };
    await this.saveSide(next);
    this.byName.set(name, next);
    this.byId.set(next.id, next);
  }

  async deleteSnapshot(name: string, snap: string, ctx: OpContext = {}): Promise<void> {
    const side = this.side(name);
    await ctx.step?.('snapshot-delete', { id: side.id });
    const engine = this.online(side.id);
    if (engine) await engine.deleteSnapshot(side.id, snap);
    else await this.qemu(['snapshot', '-q', '-d', snap, this.volumePath(side.id)]);
    const next = structuredClone(this.side(name));
    delete next.snapshots[snap];
    await this.saveSide(next);
    this.byName.set(name, next);
    this.byId.set(next.id, next);
  }

  /** protect = materialise the snapshot as an immutable base (written to *.tmp, renamed when complete) */
  async protectSnapshot(name: string, snap: string, ctx: OpContext = {}): Promise<void> {
    const side = this.side(name);
    const base = this.basePath(side.id, snap);
    if (await exists(base)) return;
    await ctx.step?.('materialise-base', { id: side.id });
    const tmp = `${base}.tmp`;
    // a clone's base holds only the clone's own clusters, layered on its parent's base (-B)
    const backing = side.parent ? baseFileName(side.parent.volumeId, side.parent.snapshot) : null;
    const args = [
      'convert',
      '-U',
      '-p',
      '-l',
      `snapshot.name=${snap}`,
      '-f',
      'qcow2',
      '-O',
      'qcow2',
      '-o',
      CREATE_OPTS,
    ];
    if (backing) args.push('-B', backing, '-F', 'qcow2');
    args.push(this.volumePath(side.id), tmp);
    try {
      await this.qemu(args, {
        cwd: this.baseDir,
        timeoutMs: this.longTimeoutMs,
        signal: ctx.signal,
        progress: ctx.onProgress
          ? { stream: 'stdout', parse: parseQemuProgress, onProgress: ctx.onProgress }
          : undefined,
      });
      await fsyncFile(tmp);
      await chmod(tmp, 0o444);
      await rename(tmp, base);
      await fsyncDir(this.baseDir);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    const next = structuredClone(this.side(name));
    next.snapshots[snap] = { ...(next.snapshots[snap] ?? { size: 0, createdAt: 0 }), baseBacking: backing };
    await this.saveSide(next);
    this.byName.set(name, next);
    this.byId.set(next.id, next);
  }

  async unprotectSnapshot(name: string, snap: string, ctx: OpContext = {}): Promise<void> {
    const side = this.side(name);
    await ctx.step?.('remove-base', { id: side.id });
    await unlinkDurable(this.basePath(side.id, snap));
    const next = structuredClone(side);
    if (next.snapshots[snap]) delete next.snapshots[snap].baseBacking;
    await this.saveSide(next);
    this.byName.set(name, next);
    this.byId.set(next.id, next);
  }

  /** names of volumes whose image or whose protected snapshots' bases are layered on this base file */
  private dependentsOfBase(baseFile: string): string[] {
    const [id, snap] = splitBaseFileName(baseFile);
    const out = new Set<string>();
    for (const s of this.byId.values()) {
      if (s.parent && s.parent.volumeId === id && s.parent.snapshot === snap) out.add(s.name);
      for (const [sn, m] of Object.entries(s.snapshots)) if (m.baseBacking === baseFile) out.add(`${s.name}@${sn}`);
    }
    return [...out].sort();
  }

  async snapshotChildren(name: string, snap: string): Promise<string[]> {
    return this.dependentsOfBase(baseFileName(this.side(name).id, snap));
  }

  async cloneDepth(name: string, snap?: string): Promise<number> {
    const side = this.side(name);
    if (snap !== undefined) {
      const base = this.basePath(side.id, snap);
      // a clone of name@snap sits on top of the base's whole chain
      if (await exists(base)) return await this.chainLength(base);
      return (await this.cloneDepth(name)) + 1;
    }
    return (await this.chainLength(this.volumePath(side.id))) - 1;
  }

  private async chainLength(path: string): Promise<number> {
    const out = await this.qemu(['info', '-U', '--backing-chain', '--output=json', '-f', 'qcow2', path]);
    return (JSON.parse(out) as unknown[]).length;
  }

  async cloneVolume(
    name: string,
    snap: string,
    target: string,
    flatten: boolean,
    meta: VolumeMeta,
    ctx: OpContext = {},
  ): Promise<void> {
    const src = this.side(name);
    if (this.byName.has(target))
      throw new AlreadyExistsError(`volume "${target}" already exists in pool "${this.pool}"`);
    const baseName = baseFileName(src.id, snap);
    if (!(await exists(join(this.baseDir, baseName))))
      throw new NotFoundError(`snapshot "${name}@${snap}" is not protected (no base to clone from)`);
    const id = newId();
    await ctx.step?.('clone-file', { id });
    const final = this.volumePath(id);
    const tmp = `${final}.tmp`;
    try {
      if (flatten) {
        await this.qemu(
          ['convert', '-p', '-f', 'qcow2', '-O', 'qcow2', '-o', CREATE_OPTS, join(this.baseDir, baseName), tmp],
          {
            timeoutMs: this.longTimeoutMs,
            signal: ctx.signal,
            progress: ctx.onProgress
              ? { stream: 'stdout', parse: parseQemuProgress, onProgress: ctx.onProgress }
              : undefined,
          },
        );
      } else {
        // relative backing path: the whole root can be moved
        await this.qemu(
          [
            'create',
            '-q',
            '-f',
            'qcow2',
            '-o',
            CREATE_OPTS,
            '-b',
            `../bases/${baseName}`,
            '-F',
            'qcow2',
            `${id}.qcow2.tmp`,
          ],
          {
            cwd: this.volDir,
          },
        );
      }
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    const side: Qcow2Sidecar = {
      version: 1,
      id,
      name: target,
      createdAt: Math.floor(Date.now() / 1000),
      meta: structuredClone(meta),
      parent: flatten ? null : { volumeId: src.id, snapshot: snap },
      snapshots: {},
    };
    await this.commitNewImage(tmp, final, side);
  }

  async flattenVolume(name: string, ctx: OpContext = {}): Promise<void> {
    const side = this.side(name);
    const qi = await this.info(this.volumePath(side.id));
    if (!qi['backing-filename']) {
      if (side.parent) await this.clearParent(side.name);
      return;
    }
    // rebase -b '' cuts the backing link for the whole file: internal snapshots that read through it
    // would silently turn into zeros (recipe §2.5), so refuse.
    if ((qi.snapshots?.length ?? 0) > 0)
      throw new NotSupportedError(
        `volume "${name}" has ${qi.snapshots?.length} snapshot(s): a qcow2 clone can only be flattened without snapshots; delete them first`,
      );
    await ctx.step?.('rebase', { id: side.id });
    const engine = this.online(side.id);
    if (engine) await engine.stream(side.id, ctx);
    else await this.rebaseToNothing(side.id, ctx);
    await this.clearParent(side.name);
  }

  private async rebaseToNothing(id: string, ctx: OpContext = {}): Promise<void> {
    await this.qemu(['rebase', '-p', '-f', 'qcow2', '-b', '', this.volumePath(id)], {
      timeoutMs: this.longTimeoutMs,
      signal: ctx.signal,
      progress: ctx.onProgress ? { stream: 'stdout', parse: parseQemuProgress, onProgress: ctx.onProgress } : undefined,
    });
  }

  private async clearParent(name: string): Promise<void> {
    const next = { ...this.side(name), parent: null };
    await this.saveSide(next);
    this.byName.set(name, next);
    this.byId.set(next.id, next);
  }

  async rollbackVolume(name: string, snap: string, ctx: OpContext = {}): Promise<void> {
    const side = this.side(name);
    await ctx.step?.('apply', { id: side.id });
    const engine = this.online(side.id);
    if (engine) return engine.rollback(side.id, snap, ctx);
    await this.qemu(['snapshot', '-q', '-a', snap, this.volumePath(side.id)], { signal: ctx.signal });
  }

  async usage(name: string): Promise<Usage> {
    const side = this.side(name);
    const path = this.volumePath(side.id);
    const qi = await this.info(path);
    const entries: UsageEntry[] = [
      { snapshot: null, provisioned: qi['virtual-size'], allocated: qi['actual-size'] ?? 0 },
    ];
    for (const s of qi.snapshots ?? []) {
      // what a standalone copy of the snapshot needs: its own share of the data
      const m = JSON.parse(
        await this.qemu([
          'measure',
          '-U',
          '--output=json',
          '-O',
          'qcow2',
          '-f',
          'qcow2',
          '-l',
          `snapshot.name=${s.name}`,
          path,
        ]),
      ) as { required: number };
      entries.push({
        snapshot: s.name,
        provisioned: side.snapshots[s.name]?.size ?? qi['virtual-size'],
        allocated: m.required,
      });
    }
    return { provisioned: qi['virtual-size'], allocated: qi['actual-size'] ?? 0, entries };
  }

  // ---- crash recovery ----------------------------------------------------------------------------
  async recover(entry: JournalEntry): Promise<string> {
    const id = typeof entry.data.id === 'string' ? entry.data.id : this.byName.get(entry.volume)?.id;
    const did: string[] = [];
    const tmps = await this.removeTempFiles();
    if (tmps.length) did.push(`removed ${tmps.length} temp file(s)`);
    if (!id) return [...did, 'nothing had started'].join('; ');
    const image = this.volumePath(id);
    switch (entry.op) {
      case 'create':
      case 'clone': {
        // the image becomes visible only by its final rename, after its sidecar: without it, undo
        if (!(await exists(image))) {
          await unlinkDurable(this.metaPath(id));
          this.forget(id);
          did.push(`undone: ${entry.op} of "${entry.volume}" removed`);
        } else did.push(`${entry.op} of "${entry.volume}" had completed`);
        return did.join('; ');
      }
      case 'delete': {
        await this.removeVolumeFiles(id);
        this.forget(id);
        did.push(`finished: delete of "${entry.volume}"`);
        return did.join('; ');
      }
    }
    if (!(await exists(image))) return [...did, `volume "${entry.volume}" no longer exists`].join('; ');
    const engine = this.online(id);
    if (engine) {
      did.push(...(await this.recoverOnline(engine, id, entry)));
      await this.reconcileSnapshots(id);
      return did.join('; ');
    }
    // any metadata op may have been cut: check repairs leaks and refcount mismatches (recipe §2.4)
    await this.qemu(['check', '-q', '-r', 'all', '-f', 'qcow2', image], { timeoutMs: this.longTimeoutMs }).catch(
      (e: unknown) => {
        // exit 2/3 = errors found and/or fixed; the repair ran, the re-check below shows what is left
        if (!(e instanceof ToolFailure) || (e.exitCode !== 2 && e.exitCode !== 3)) throw e;
      },
    );
    did.push('qemu-img check -r all');
    if (entry.op === 'flatten') {
      const qi = await this.info(image);
      if (qi['backing-filename']) {
        await this.rebaseToNothing(id);
        did.push(`finished: flatten of "${entry.volume}"`);
      }
      const s = this.byId.get(id);
      if (s?.parent) await this.clearParent(s.name);
    }
    if (entry.op === 'rollback') {
      const backup = String(entry.data.backup ?? '');
      const target = String(entry.args.snapshot ?? '');
      const snaps = (await this.info(image)).snapshots ?? [];
      if (backup && snaps.some((s) => s.name === backup) && snaps.some((s) => s.name === target)) {
        await this.qemu(['snapshot', '-q', '-a', target, image]);
        did.push(`finished: rollback of "${entry.volume}" to "${target}" (backup "${backup}" kept)`);
      } else did.push(`undone: rollback of "${entry.volume}" never took its backup, volume unchanged`);
    }
    if (entry.op === 'unprotect' && typeof entry.args.snapshot === 'string') {
      await unlinkDurable(this.basePath(id, entry.args.snapshot));
      did.push(`finished: unprotect of "${entry.volume}@${entry.args.snapshot}"`);
    }
    await this.reconcileSnapshots(id);
    return did.join('; ');
  }

  /** An operation on an open volume was cut: QEMU kept the image consistent (no qemu-img check, which
   *  could not take the lock anyway); only what the operation left half-done is finished. */
  private async recoverOnline(engine: StorageEngine, id: string, entry: JournalEntry): Promise<string[]> {
    const did = ['open in the storage daemon'];
    if (entry.op === 'flatten') {
      if (await engine.streaming(id))
        did.push(`flatten of "${entry.volume}" still runs in the storage daemon; parent kept until a flatten succeeds`);
      else if (!(await this.info(this.volumePath(id)))['backing-filename']) {
        const s = this.byId.get(id);
        if (s?.parent) await this.clearParent(s.name);
        did.push(`finished: flatten of "${entry.volume}"`);
      } else did.push(`flatten of "${entry.volume}" was interrupted; the volume still has its parent`);
    }
    if (entry.op === 'rollback') {
      const backup = String(entry.data.backup ?? '');
      const target = String(entry.args.snapshot ?? '');
      const snaps = (await this.info(this.volumePath(id))).snapshots ?? [];
      if (backup && snaps.some((s) => s.name === backup) && snaps.some((s) => s.name === target)) {
        await engine.rollback(id, target);
        did.push(`finished: rollback of "${entry.volume}" to "${target}" (backup "${backup}" kept)`);
      } else did.push(`undone: rollback of "${entry.volume}" never took its backup, volume unchanged`);
    }
    return did;
  }

  private forget(id: string): void {
    const s = this.byId.get(id);
    if (s) this.byName.delete(s.name);
    this.byId.delete(id);
  }

  /** makes the sidecar's snapshot list match the image's (a crash can fall between the two writes) */
  private async reconcileSnapshots(id: string): Promise<void> {
    const side = this.byId.get(id);
    if (!side) return;
    const qi = await this.info(this.volumePath(id));
    const next = structuredClone(side);
    const present = new Set((qi.snapshots ?? []).map((s) => s.name));
    for (const n of Object.keys(next.snapshots)) if (!present.has(n)) delete next.snapshots[n];
    for (const s of qi.snapshots ?? [])
      next.snapshots[s.name] ??= { size: qi['virtual-size'], createdAt: s['date-sec'] };
    for (const n of Object.keys(next.snapshots)) {
      if (!(await exists(this.basePath(id, n)))) delete next.snapshots[n].baseBacking;
    }
    await this.saveSide(next);
    this.byName.set(next.name, next);
    this.byId.set(id, next);
  }

  /** ids of images/bases/sidecars on disk that no sidecar accounts for (tests: "no orphan") */
  async orphans(): Promise<string[]> {
    const out: string[] = [];
    for (const f of await readdir(this.volDir)) {
      const id = f.replace(/\.qcow2$/, '');
      if (!f.endsWith('.qcow2') || !this.byId.has(id)) out.push(join(this.volDir, f));
    }
    for (const f of await readdir(this.baseDir)) {
      const [id, snap] = splitBaseFileName(f);
      const s = this.byId.get(id);
      if (!f.endsWith('.qcow2') || !s || !(snap in s.snapshots)) out.push(join(this.baseDir, f));
    }
    for (const f of await readdir(this.metaDir)) {
      const id = f.replace(/\.json$/, '');
      if (!(await exists(this.volumePath(id)))) out.push(join(this.metaDir, f));
    }
    return out;
  }
}

function baseFileName(id: string, snap: string): string {
  return `${id}@${snap}.qcow2`;
}

function splitBaseFileName(f: string): [string, string] {
  const stem = f.replace(/\.qcow2$/, '');
  const at = stem.indexOf('@');
  return at < 0 ? [stem, ''] : [stem.slice(0, at), stem.slice(at + 1)];
}

/** qemu-img's messages → named errors */
function mapQemuError(e: unknown): unknown {
  if (!(e instanceof ToolFailure)) return e;
  const s = e.stderr;
  if (/Failed to get (shared )?"write" lock|Is another process using the image/.test(s))
    return new BusyError(`image is in use by another process (attached): ${firstLine(s)}`);
  if (/Could not find snapshot|Can't find the snapshot|snapshot .* not found/i.test(s))
    return new NotFoundError(firstLine(s));
  if (/No such file or directory/.test(s)) return new NotFoundError(firstLine(s));
  if (/Use the --shrink option/.test(s)) return new BackendError(firstLine(s));
  return e;
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
