// The volume semantics, once, above the backends: name and size rules, QoS, limits (512 TiB, 256 snapshots,
// clone depth 16), guards (attached, snapshots, clones, protection), automatic backup before rollback,
// journaling of every mutation, and long operations as jobs. The D-Bus adapter and tests use only this.
import { EventEmitter } from 'node:events';
import type {
  Backend,
  PerformancePriority,
  QosLimits,
  SnapshotInfo,
  Usage,
  VolumeInfo,
  VolumeMeta,
} from './backend.js';
import { DEFAULT_META, NO_QOS } from './backend.js';
import { validateName, AUTO_BACKUP_PREFIX } from './names.js';
import { validateVolumeSize, formatSize } from './size.js';
import {
  AlreadyExistsError,
  BusyError,
  InvalidArgumentError,
  LimitExceededError,
  NotFoundError,
  NotSupportedError,
  VolumeError,
} from './errors.js';
import type { Journal, JournalRecord, JournalValue } from '../jobs/journal.js';
import type { Job, JobRunner, JobContext } from '../jobs/runner.js';
import type { OpContext } from './backend.js';
import { log } from '../common/log.js';

export const MAX_SNAPSHOTS_PER_VOLUME = 256;
export const MAX_CLONE_DEPTH = 16;
/** how long a Usage answer is reused (allocation also grows with the writes of attached consumers) */
export const USAGE_CACHE_MS = 10_000;

export interface CreateVolumeRequest {
  name: string;
  size: number;
  /** pool name; the first configured pool when absent */
  pool?: string;
  qos?: Partial<QosLimits>;
  priority?: PerformancePriority;
}

export interface CloneRequest {
  volume: string;
  snapshot: string;
  target: string;
  flatten?: boolean;
  qos?: Partial<QosLimits>;
  priority?: PerformancePriority;
}

/** what changed, for the D-Bus adapter's object tree */
export interface VolumeChange {
  pool: string;
  /** current name (after a rename) */
  volume: string;
  removed?: boolean;
  renamedFrom?: string;
}

export interface PoolInfo {
  name: string;
  backend: Backend['kind'];
  location: string;
}

/** emits "change" (VolumeChange) after every mutation */
export class VolumeService extends EventEmitter {
  private readonly pools = new Map<string, Backend>();
  /** volume name → pool; names are unique across pools so that a name alone identifies a volume */
  private readonly where = new Map<string, string>();
  /** Usage answers (and computations in progress, shared by concurrent callers) of the current generation */
  private readonly usageCache = new Map<string, { generation: number; at: number; value: Promise<Usage> }>();
  /** bumped by every mutation, at its start and end: a cached read never outlives a change */
  private generation = 0;

  constructor(
    backends: Backend[],
    readonly journal: Journal,
    readonly jobs: JobRunner,
  ) {
    super();
    if (backends.length === 0) throw new InvalidArgumentError('no volume pool configured');
    for (const b of backends) {
      if (this.pools.has(b.pool)) throw new InvalidArgumentError(`pool "${b.pool}" configured twice`);
      this.pools.set(b.pool, b);
    }
  }

  /** Opens the backends, then finishes or undoes what the journal says a crash interrupted. */
  async open(): Promise<string[]> {
    await this.journal.open();
    for (const b of this.pools.values()) await b.open();
    const report: string[] = [];
    for (const rec of await this.journal.pending()) {
      const e = rec.entry;
      const b = this.pools.get(e.pool);
      if (!b) {
        log().error({ entry: e }, 'journal entry for an unknown pool left in place');
        continue;
      }
      const what = await b.recover(e);
      log().warn({ op: e.op, volume: e.volume, phase: e.phase, recovery: what }, 'recovered interrupted operation');
      report.push(`${e.op} ${e.pool}/${e.volume} (phase ${e.phase}): ${what}`);
      await rec.complete();
    }
    await this.reindex();
    return report;
  }

  private async reindex(): Promise<void> {
    this.where.clear();
    for (const b of this.pools.values())
      for (const v of await b.listVolumes()) {
        const other = this.where.get(v.name);
        if (other) log().warn({ volume: v.name, pools: [other, b.pool] }, 'volume name in two pools; the first wins');
        else this.where.set(v.name, b.pool);
      }
  }

  listPools(): PoolInfo[] {
    return [...this.pools.values()].map((b) => ({ name: b.pool, backend: b.kind, location: b.location }));
  }

  private pool(name?: string): Backend {
    if (name === undefined || name === '') return this.pools.values().next().value as Backend;
    const b = this.pools.get(name);
    if (!b) throw new NotFoundError(`pool "${name}" not found (configured: ${[...this.pools.keys()].join(', ')})`);
    return b;
  }

  private backendOf(volume: string): Backend {
    validateName(volume, 'volume');
    const p = this.where.get(volume);
    if (!p) throw new NotFoundError(`volume "${volume}" not found`);
    return this.pool(p);
  }

  private readonly changeHooks: ((c: VolumeChange) => Promise<void>)[] = [];
  private exportedThrough: (volume: string) => string[] = () => [];

  /** Who serves a volume to hosts (the access paths): deleting, shrinking or rolling back such a volume
   *  changes data under running hosts, so it needs force. */
  setExportCheck(fn: (volume: string) => string[]): void {
    this.exportedThrough = fn;
  }

  private refuseIfExported(volume: string, consequence: string, force: boolean): void {
    const aps = this.exportedThrough(volume);
    if (aps.length === 0 || force) return;
    throw new BusyError(
      `volume "${volume}" is exported through access path(s) ${aps.join(', ')}: ${consequence}; remove it from the access path(s) first, or force it`,
    );
  }

  /** Awaited after each mutation, before the caller (or the job) sees it complete: the D-Bus object tree
   *  is up to date when a method returns or a job's Completed signal goes out. Returns the remover. */
  addChangeHook(hook: (c: VolumeChange) => Promise<void>): () => void {
    this.changeHooks.push(hook);
    return () => {
      const i = this.changeHooks.indexOf(hook);
      if (i >= 0) this.changeHooks.splice(i, 1);
    };
  }

  private invalidate(): void {
    this.generation++;
    this.usageCache.clear();
  }

  private async emitChange(c: VolumeChange): Promise<void> {
    this.invalidate();
    this.emit('change', c);
    for (const h of this.changeHooks)
      await h(c).catch((e: unknown) => log().warn({ err: (e as Error).message }, 'change hook failed'));
  }

  /** quick mutation: lock, journal, run, complete */
  private async quick<T>(
    b: Backend,
    keys: string[],
    op: string,
    volume: string,
    args: Record<string, JournalValue>,
    fn: (ctx: OpContext) => Promise<T>,
  ): Promise<T> {
    const release = this.jobs.tryLock(keys, op);
    try {
      return await this.journaled(b, op, volume, args, fn);
    } finally {
      release();
    }
  }

  /** Runs fn with its intent journaled first. The backend's own failure paths leave a consistent state
   *  (temp files removed, tools that fail change nothing), so a failure also completes the entry; only
   *  a crash leaves it for recovery at start-up. */
  private async journaled<T>(
    b: Backend,
    op: string,
    volume: string,
    args: Record<string, JournalValue>,
    fn: (ctx: OpContext, rec: JournalRecord) => Promise<T>,
    extra: Omit<OpContext, 'step'> = {},
  ): Promise<T> {
    const rec = await this.journal.begin({ pool: b.pool, op, volume, args });
    this.invalidate();
    try {
      return await fn({ ...extra, step: (phase, data) => rec.step(phase, data) }, rec);
    } finally {
      this.invalidate();
      await rec.complete();
    }
  }

  // ---- queries -----------------------------------------------------------------------------------
  async listVolumes(pool?: string): Promise<VolumeInfo[]> {
    const out: VolumeInfo[] = [];
    for (const b of pool ? [this.pool(pool)] : this.pools.values()) out.push(...(await b.listVolumes()));
    return out;
  }

  async getVolume(name: string): Promise<VolumeInfo> {
    return this.backendOf(name).getVolume(name);
  }

  /** null when absent (no error) */
  async findVolume(name: string): Promise<VolumeInfo | null> {
    validateName(name, 'volume');
    return this.where.has(name) ? this.getVolume(name) : null;
  }

  async listSnapshots(volume: string): Promise<SnapshotInfo[]> {
    return this.backendOf(volume).listSnapshots(volume);
  }

  async getSnapshot(volume: string, snap: string): Promise<SnapshotInfo> {
    validateName(snap, 'snapshot');
    const s = (await this.listSnapshots(volume)).find((x) => x.name === snap);
    if (!s) throw new NotFoundError(`snapshot "${volume}@${snap}" not found`);
    return s;
  }

  /** Costly (one tool run per snapshot on qcow2): answered from a cache that every mutation clears, and one
   *  computation serves all the callers that ask while it runs. */
  async usage(volume: string): Promise<Usage> {
    const b = this.backendOf(volume);
    const now = Date.now();
    const hit = this.usageCache.get(volume);
    if (hit && hit.generation === this.generation && now - hit.at < USAGE_CACHE_MS) return hit.value;
    const entry = { generation: this.generation, at: now, value: b.usage(volume) };
    this.usageCache.set(volume, entry);
    entry.value.catch(() => {
      if (this.usageCache.get(volume) === entry) this.usageCache.delete(volume);
    });
    return entry.value;
  }

  async isAttached(volume: string): Promise<boolean> {
    return this.backendOf(volume).isAttached(volume);
  }

  async snapshotChildren(volume: string, snap: string): Promise<string[]> {
    await this.getSnapshot(volume, snap);
    return this.backendOf(volume).snapshotChildren(volume, snap);
  }

  async cloneDepth(volume: string): Promise<number> {
    return this.backendOf(volume).cloneDepth(volume);
  }

  // ---- volume mutations --------------------------------------------------------------------------
  async createVolume(req: CreateVolumeRequest): Promise<VolumeInfo> {
    const name = validateName(req.name, 'name');
    const size = validateVolumeSize(req.size, 'size');
    const meta = buildMeta(req.qos, req.priority);
    const b = this.pool(req.pool);
    await this.quick(b, [name], 'create', name, { size }, async (ctx) => {
      if (this.where.has(name))
        throw new AlreadyExistsError(`volume "${name}" already exists (pool "${this.where.get(name)}")`);
      await b.createVolume(name, size, meta, ctx);
      this.where.set(name, b.pool);
    });
    await this.emitChange({ pool: b.pool, volume: name });
    return b.getVolume(name);
  }

  async setQos(volume: string, qos: Partial<QosLimits>, priority?: PerformancePriority): Promise<VolumeInfo> {
    const b = this.backendOf(volume);
    await this.quick(b, [volume], 'set-meta', volume, {}, async () => {
      const cur = (await b.getVolume(volume)).meta;
      const meta = buildMeta({ ...cur.qos, ...qos }, priority ?? cur.priority);
      await b.setMeta(volume, meta);
    });
    await this.emitChange({ pool: b.pool, volume });
    return b.getVolume(volume);
  }

  async rename(volume: string, newName: string): Promise<VolumeInfo> {
    const b = this.backendOf(volume);
    const to = validateName(newName, 'new name');
    if (to === volume) return b.getVolume(volume);
    await this.quick(b, [volume, to], 'rename', volume, { to }, async () => {
      if (this.where.has(to)) throw new AlreadyExistsError(`volume "${to}" already exists`);
      await b.renameVolume(volume, to);
      this.where.delete(volume);
      this.where.set(to, b.pool);
    });
    await this.emitChange({ pool: b.pool, volume: to, renamedFrom: volume });
    return b.getVolume(to);
  }

  /** Grow, or shrink with allowShrink and only while detached. A job (rbd resizes can take a while). */
  async resize(volume: string, size: number, allowShrink = false, force = false): Promise<Job> {
    const b = this.backendOf(volume);
    validateVolumeSize(size, 'size');
    const check = async (): Promise<boolean> => {
      const cur = await b.getVolume(volume);
      if (size < cur.size) {
        if (!allowShrink)
          throw new InvalidArgumentError(
            `size ${formatSize(size)} is smaller than the current ${formatSize(cur.size)}: shrinking needs the explicit allow-shrink flag`,
          );
        this.refuseIfExported(volume, 'shrinking it cuts off data the hosts address', force);
        if (await b.isAttached(volume)) throw new BusyError(`volume "${volume}" is attached: it cannot be shrunk`);
      }
      return size !== cur.size;
    };
    await check();
    return this.submit(b, 'resize', volume, [volume], b.kind === 'rbd', async (ctx) => {
      if (!(await check())) return 'unchanged';
      await this.journaled(
        b,
        'resize',
        volume,
        { size, allowShrink },
        (oc) => b.resizeVolume(volume, size, allowShrink, oc),
        ctx,
      );
      await this.emitChange({ pool: b.pool, volume });
      return formatSize(size);
    });
  }

  /** Deletes a volume. Refused while attached or while clones depend on it; refused with snapshots
   *  unless `force`, which removes them (protected ones too, when nothing depends on them). */
  async deleteVolume(volume: string, force = false): Promise<Job> {
    const b = this.backendOf(volume);
    const check = async (): Promise<void> => {
      const snaps = await b.listSnapshots(volume);
      if (snaps.length > 0 && !force)
        throw new BusyError(
          `volume "${volume}" has ${snaps.length} snapshot(s): delete them first or force the delete`,
        );
      const children: string[] = [];
      for (const s of snaps) if (s.protected) children.push(...(await b.snapshotChildren(volume, s.name)));
      if (children.length > 0)
        throw new BusyError(
          `volume "${volume}" has clones (${children.join(', ')}): flatten or delete them first (even a forced delete keeps other volumes intact)`,
        );
      this.refuseIfExported(volume, 'deleting it takes it away from the hosts using it', force);
      if (await b.isAttached(volume)) throw new BusyError(`volume "${volume}" is attached: detach it before deleting`);
    };
    await check();
    return this.submit(b, 'delete', volume, [volume], false, async (ctx) => {
      await check();
      await this.journaled(b, 'delete', volume, { force }, (oc) => b.deleteVolume(volume, oc), ctx);
      this.where.delete(volume);
      await this.emitChange({ pool: b.pool, volume, removed: true });
      return volume;
    });
  }

  async clone(req: CloneRequest): Promise<Job> {
    const b = this.backendOf(req.volume);
    const snap = validateName(req.snapshot, 'snapshot');
    const target = validateName(req.target, 'target');
    const meta = buildMeta(req.qos, req.priority);
    const flatten = req.flatten === true;
    const check = async (): Promise<void> => {
      if (this.where.has(target)) throw new AlreadyExistsError(`volume "${target}" already exists`);
      const s = await this.getSnapshot(req.volume, snap);
      if (!s.protected)
        throw new InvalidArgumentError(`snapshot "${req.volume}@${snap}" is not protected: protect it before cloning`);
      const depth = await b.cloneDepth(req.volume, snap);
      if (!flatten && depth > MAX_CLONE_DEPTH)
        throw new LimitExceededError(
          `a clone of "${req.volume}@${snap}" would be ${depth} levels deep (at most ${MAX_CLONE_DEPTH})`,
        );
    };
    await check();
    return this.submit(b, 'clone', `${req.volume}@${snap} -> ${target}`, [req.volume, target], true, async (ctx) => {
      await check();
      await this.journaled(
        b,
        'clone',
        target,
        { source: req.volume, snapshot: snap, flatten },
        async (oc) => {
          await b.cloneVolume(req.volume, snap, target, flatten, meta, oc);
          this.where.set(target, b.pool);
        },
        ctx,
      );
      await this.emitChange({ pool: b.pool, volume: target });
      await this.emitChange({ pool: b.pool, volume: req.volume });
      return target;
    });
  }

  async flatten(volume: string): Promise<Job> {
    const b = this.backendOf(volume);
    return this.submit(b, 'flatten', volume, [volume], true, async (ctx) => {
      const v = await b.getVolume(volume);
      if (!v.parent) return 'unchanged: volume has no parent';
      await this.journaled(
        b,
        'flatten',
        volume,
        { parent: `${v.parent.volume}@${v.parent.snapshot}` },
        (oc) => b.flattenVolume(volume, oc),
        ctx,
      );
      await this.emitChange({ pool: b.pool, volume });
      await this.emitChange({ pool: b.pool, volume: v.parent.volume });
      return 'flattened';
    });
  }

  /** Reverts a volume to a snapshot after taking an automatic backup snapshot; the job's result is its name. */
  async rollback(volume: string, snapshot: string, force = false): Promise<Job> {
    const b = this.backendOf(volume);
    const snap = validateName(snapshot, 'snapshot');
    const check = async (): Promise<void> => {
      const snaps = await b.listSnapshots(volume);
      if (!snaps.some((s) => s.name === snap)) throw new NotFoundError(`snapshot "${volume}@${snap}" not found`);
      if (snaps.length >= MAX_SNAPSHOTS_PER_VOLUME)
        throw new LimitExceededError(
          `volume "${volume}" has ${snaps.length} snapshots: no room for the backup snapshot a rollback takes first (at most ${MAX_SNAPSHOTS_PER_VOLUME})`,
        );
      this.refuseIfExported(volume, 'a rollback replaces the data under the hosts using it', force);
      // an open volume held by stas's storage daemon rolls back through it; a foreign consumer's lock refuses
      if ((await b.isAttached(volume)) && !b.heldByEngine?.(volume))
        throw new BusyError(`volume "${volume}" is attached: detach it before a rollback`);
    };
    await check();
    return this.submit(b, 'rollback', `${volume}@${snap}`, [volume], false, async (ctx) => {
      await check();
      const existing = new Set((await b.listSnapshots(volume)).map((s) => s.name));
      let backup = `${AUTO_BACKUP_PREFIX}${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`;
      for (let i = 2; existing.has(backup); i++) backup = `${backup.replace(/-\d+$/, '')}-${i}`;
      await this.journaled(
        b,
        'rollback',
        volume,
        { snapshot: snap },
        async (oc, rec) => {
          await rec.step('backup', { backup });
          await b.createSnapshot(volume, backup);
          await rec.step('backup-taken');
          await b.rollbackVolume(volume, snap, oc);
        },
        ctx,
      );
      await this.emitChange({ pool: b.pool, volume });
      return backup;
    });
  }

  private submit(
    b: Backend,
    operation: string,
    object: string,
    keys: string[],
    cancellable: boolean,
    run: (ctx: Omit<OpContext, 'step'>) => Promise<string>,
  ): Job {
    return this.jobs.submit({
      operation,
      object: `${b.pool}/${object}`,
      keys,
      cancellable,
      run: (jc: JobContext) => run({ signal: jc.signal, onProgress: (p) => jc.progress(p) }),
    });
  }

  // ---- open volumes (the storage daemon) -----------------------------------------------------------
  private engineBackend(
    volume: string,
    what: string,
  ): Backend & Required<Pick<Backend, 'exportVolume' | 'openVolume' | 'closeVolume'>> {
    const b = this.backendOf(volume);
    if (!b.exportVolume || !b.openVolume || !b.closeVolume)
      throw new NotSupportedError(`${what}: pool "${b.pool}" (${b.kind}) has no storage-daemon export`);
    return b as Backend & Required<Pick<Backend, 'exportVolume' | 'openVolume' | 'closeVolume'>>;
  }

  /** Opens the volume in the storage daemon and returns what nvmet serves (a FUSE file of the volume).
   *  From then on snapshot, resize, flatten and rollback of the volume work while hosts write. Idempotent. */
  async exportVolume(volume: string): Promise<{ devicePath: string }> {
    const b = this.engineBackend(volume, 'export');
    const release = this.jobs.tryLock([volume], 'export');
    try {
      const r = await b.exportVolume(volume);
      log().info({ volume, devicePath: r.devicePath }, 'volume exported');
      return r;
    } finally {
      release();
    }
  }

  /** Opens the volume in the storage daemon for userspace NBD clients; returns their URI. Idempotent. */
  async openVolume(volume: string): Promise<{ nbdUri: string }> {
    const b = this.engineBackend(volume, 'open');
    const release = this.jobs.tryLock([volume], 'open');
    try {
      return await b.openVolume(volume);
    } finally {
      release();
    }
  }

  /** Closes the volume in the storage daemon (every export goes, clients are disconnected). Idempotent. */
  async unexportVolume(volume: string): Promise<void> {
    const b = this.engineBackend(volume, 'unexport');
    const release = this.jobs.tryLock([volume], 'unexport');
    try {
      await b.closeVolume(volume);
      log().info({ volume }, 'volume unexported');
    } finally {
      release();
    }
  }

  // ---- snapshots ---------------------------------------------------------------------------------
  async createSnapshot(volume: string, snapshot: string): Promise<SnapshotInfo> {
    const b = this.backendOf(volume);
    const snap = validateName(snapshot, 'snapshot');
    await this.quick(b, [volume], 'snapshot-create', volume, { snapshot: snap }, async (ctx) => {
      const snaps = await b.listSnapshots(volume);
      if (snaps.some((s) => s.name === snap))
        throw new AlreadyExistsError(`snapshot "${volume}@${snap}" already exists`);
      if (snaps.length >= MAX_SNAPSHOTS_PER_VOLUME)
        throw new LimitExceededError(
          `volume "${volume}" already has ${snaps.length} snapshots (at most ${MAX_SNAPSHOTS_PER_VOLUME})`,
        );
      await b.createSnapshot(volume, snap, ctx);
    });
    await this.emitChange({ pool: b.pool, volume });
    return this.getSnapshot(volume, snap);
  }

  async deleteSnapshot(volume: string, snapshot: string): Promise<void> {
    const b = this.backendOf(volume);
    const snap = validateName(snapshot, 'snapshot');
    await this.quick(b, [volume], 'snapshot-delete', volume, { snapshot: snap }, async (ctx) => {
      const s = await this.getSnapshot(volume, snap);
      if (s.protected) throw new BusyError(`snapshot "${volume}@${snap}" is protected: unprotect it before deleting`);
      await b.deleteSnapshot(volume, snap, ctx);
    });
    await this.emitChange({ pool: b.pool, volume });
  }

  /** Protected snapshots can be cloned and cannot be deleted. Idempotent. */
  async protectSnapshot(volume: string, snapshot: string): Promise<SnapshotInfo> {
    const b = this.backendOf(volume);
    const snap = validateName(snapshot, 'snapshot');
    await this.quick(b, [volume], 'protect', volume, { snapshot: snap }, async (ctx) => {
      const s = await this.getSnapshot(volume, snap);
      if (!s.protected) await b.protectSnapshot(volume, snap, ctx);
    });
    await this.emitChange({ pool: b.pool, volume });
    return this.getSnapshot(volume, snap);
  }

  /** Refused while clones depend on the snapshot. Idempotent. */
  async unprotectSnapshot(volume: string, snapshot: string): Promise<SnapshotInfo> {
    const b = this.backendOf(volume);
    const snap = validateName(snapshot, 'snapshot');
    await this.quick(b, [volume], 'unprotect', volume, { snapshot: snap }, async (ctx) => {
      const s = await this.getSnapshot(volume, snap);
      if (!s.protected) return;
      const children = await b.snapshotChildren(volume, snap);
      if (children.length > 0)
        throw new BusyError(
          `snapshot "${volume}@${snap}" has clones (${children.join(', ')}): flatten or delete them first`,
        );
      await b.unprotectSnapshot(volume, snap, ctx);
    });
    await this.emitChange({ pool: b.pool, volume });
    return this.getSnapshot(volume, snap);
  }
}

function nonNegativeInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new InvalidArgumentError(`${field}: must be a whole number ≥ 0 (0 = unlimited), got ${String(v)}`);
  return v;
}

/** QoS and priority with their rules: whole numbers ≥ 0, a burst not below its limit. */
export function buildMeta(
  qos: Partial<QosLimits> = {},
  priority: PerformancePriority = DEFAULT_META.priority,
): VolumeMeta {
  const q: QosLimits = {
    iops: nonNegativeInt(qos.iops ?? NO_QOS.iops, 'qos iops'),
    iopsBurst: nonNegativeInt(qos.iopsBurst ?? NO_QOS.iopsBurst, 'qos iops burst'),
    bps: nonNegativeInt(qos.bps ?? NO_QOS.bps, 'qos bandwidth'),
    bpsBurst: nonNegativeInt(qos.bpsBurst ?? NO_QOS.bpsBurst, 'qos bandwidth burst'),
  };
  if (q.iopsBurst && q.iops && q.iopsBurst < q.iops)
    throw new InvalidArgumentError(`qos iops burst (${q.iopsBurst}) must not be below the iops limit (${q.iops})`);
  if (q.bpsBurst && q.bps && q.bpsBurst < q.bps)
    throw new InvalidArgumentError(
      `qos bandwidth burst (${q.bpsBurst}) must not be below the bandwidth limit (${q.bps})`,
    );
  if (priority !== 'normal' && priority !== 'high')
    throw new InvalidArgumentError(`performance priority: "${String(priority)}" is not one of normal, high`);
  return { qos: q, priority };
}

export { VolumeError };
