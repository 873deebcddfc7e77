// The simulated storage engine: every Backend operation on plain data in memory, with the same facts a real engine
// reports (sizes, snapshots, protection, clone parents and depth). It lets the service and the D-Bus layer run
// without qemu-img or Ceph, the way stratisd tests its D-Bus API on its sim engine; `[Volumes] backend=sim`
// selects it (tests, demos). Nothing persists: a restart starts empty, so there is never anything to recover.
import { randomBytes } from 'node:crypto';
import type { JournalEntry } from '../jobs/journal.js';
import type { Backend, OpContext, SnapshotInfo, Usage, VolumeInfo, VolumeMeta } from './backend.js';
import { AlreadyExistsError, BusyError, CancelledError, InvalidArgumentError, NotFoundError } from './errors.js';

interface SimVolume {
  info: VolumeInfo;
  snapshots: SnapshotInfo[];
}

const now = (): number => Math.floor(Date.now() / 1000);

/** Long operations report progress in these steps and check for cancellation between them. */
async function longOperation(ctx: OpContext | undefined): Promise<void> {
  for (const p of [0, 25, 50, 75, 100]) {
    if (ctx?.signal?.aborted) throw new CancelledError();
    ctx?.onProgress?.(p);
    // yield to the event loop: a cancel or a second call can come in between, as with a real engine
    await new Promise<void>((r) => setImmediate(r));
  }
}

export class SimBackend implements Backend {
  readonly kind = 'sim' as const;
  readonly location = 'memory';
  private readonly vols = new Map<string, SimVolume>();

  constructor(readonly pool: string) {}

  async open(): Promise<void> {}

  private vol(name: string): SimVolume {
    const v = this.vols.get(name);
    if (!v) throw new NotFoundError(`volume ${this.pool}/${name} not found`);
    return v;
  }

  private snap(name: string, snap: string): SnapshotInfo {
    const s = this.vol(name).snapshots.find((x) => x.name === snap);
    if (!s) throw new NotFoundError(`snapshot ${this.pool}/${name}@${snap} not found`);
    return s;
  }

  private view(v: SimVolume): VolumeInfo {
    return {
      ...v.info,
      parent: v.info.parent ? { ...v.info.parent } : null,
      snapshotCount: v.snapshots.length,
      meta: structuredClone(v.info.meta),
    };
  }

  async listVolumes(): Promise<VolumeInfo[]> {
    return [...this.vols.values()].map((v) => this.view(v));
  }

  async getVolume(name: string): Promise<VolumeInfo> {
    return this.view(this.vol(name));
  }

  async hasVolume(name: string): Promise<boolean> {
    return this.vols.has(name);
  }

  private add(name: string, size: number, meta: VolumeMeta, parent: VolumeInfo['parent']): void {
    if (this.vols.has(name)) throw new AlreadyExistsError(`volume ${this.pool}/${name} already exists`);
    this.vols.set(name, {
      info: {
        id: randomBytes(8).toString('hex'),
        name,
        pool: this.pool,
        backend: 'sim',
        size,
        allocated: 0,
        parent,
        snapshotCount: 0,
        meta: structuredClone(meta),
        createdAt: now(),
      },
      snapshots: [],
    });
  }

  async createVolume(name: string, size: number, meta: VolumeMeta): Promise<void> {
    this.add(name, size, meta, null);
  }

  async deleteVolume(name: string, ctx?: OpContext): Promise<void> {
    this.vol(name);
    await longOperation(ctx);
    this.vols.delete(name);
  }

  async resizeVolume(name: string, size: number, allowShrink: boolean, ctx?: OpContext): Promise<void> {
    const v = this.vol(name);
    if (size < v.info.size && !allowShrink)
      throw new InvalidArgumentError(`shrinking ${this.pool}/${name} needs allowShrink`);
    await longOperation(ctx);
    v.info.size = size;
    v.info.allocated = Math.min(v.info.allocated, size);
  }

  async renameVolume(from: string, to: string): Promise<void> {
    const v = this.vol(from);
    if (this.vols.has(to)) throw new AlreadyExistsError(`volume ${this.pool}/${to} already exists`);
    this.vols.delete(from);
    v.info.name = to;
    for (const s of v.snapshots) s.volume = to;
    this.vols.set(to, v);
    for (const other of this.vols.values()) if (other.info.parent?.volume === from) other.info.parent.volume = to;
  }

  async setMeta(name: string, meta: VolumeMeta): Promise<void> {
    this.vol(name).info.meta = structuredClone(meta);
  }

  /** nothing outside this process can open a simulated volume */
  async isAttached(name: string): Promise<boolean> {
    this.vol(name);
    return false;
  }

  async listSnapshots(name: string): Promise<SnapshotInfo[]> {
    return this.vol(name).snapshots.map((s) => ({ ...s }));
  }

  async createSnapshot(name: string, snap: string): Promise<void> {
    const v = this.vol(name);
    if (v.snapshots.some((s) => s.name === snap))
      throw new AlreadyExistsError(`snapshot ${this.pool}/${name}@${snap} already exists`);
    v.snapshots.push({ name: snap, volume: name, size: v.info.size, protected: false, createdAt: now() });
  }

  async deleteSnapshot(name: string, snap: string): Promise<void> {
    const s = this.snap(name, snap);
    if (s.protected) throw new BusyError(`snapshot ${this.pool}/${name}@${snap} is protected`);
    const v = this.vol(name);
    v.snapshots = v.snapshots.filter((x) => x !== s);
  }

  async protectSnapshot(name: string, snap: string): Promise<void> {
    this.snap(name, snap).protected = true;
  }

  async unprotectSnapshot(name: string, snap: string): Promise<void> {
    const children = await this.snapshotChildren(name, snap);
    if (children.length)
      throw new BusyError(`snapshot ${this.pool}/${name}@${snap} has clones: ${children.join(', ')}`);
    this.snap(name, snap).protected = false;
  }

  async snapshotChildren(name: string, snap: string): Promise<string[]> {
    this.snap(name, snap);
    return [...this.vols.values()]
      .filter((v) => v.info.parent?.volume === name && v.info.parent.snapshot === snap)
      .map((v) => v.info.name);
  }

  async cloneDepth(name: string, snap?: string): Promise<number> {
    let depth = 0;
    for (let v: SimVolume | undefined = this.vol(name); v?.info.parent; v = this.vols.get(v.info.parent.volume))
      depth++;
    return snap === undefined ? depth : depth + 1;
  }

  async cloneVolume(
    name: string,
    snap: string,
    target: string,
    flatten: boolean,
    meta: VolumeMeta,
    ctx?: OpContext,
  ): Promise<void> {
    const s = this.snap(name, snap);
    if (!s.protected)
      throw new InvalidArgumentError(`snapshot ${this.pool}/${name}@${snap} must be protected before cloning`);
    if (this.vols.has(target)) throw new AlreadyExistsError(`volume ${this.pool}/${target} already exists`);
    if (flatten) await longOperation(ctx);
    this.add(target, s.size, meta, flatten ? null : { volume: name, snapshot: snap });
  }

  async flattenVolume(name: string, ctx?: OpContext): Promise<void> {
    const v = this.vol(name);
    await longOperation(ctx);
    v.info.parent = null;
  }

  async rollbackVolume(name: string, snap: string, ctx?: OpContext): Promise<void> {
    const s = this.snap(name, snap);
    await longOperation(ctx);
    this.vol(name).info.size = s.size;
  }

  async usage(name: string): Promise<Usage> {
    const v = this.vol(name);
    const entries = [
      { snapshot: null, provisioned: v.info.size, allocated: v.info.allocated },
      ...v.snapshots.map((s) => ({ snapshot: s.name, provisioned: s.size, allocated: 0 })),
    ];
    return { provisioned: v.info.size, allocated: entries.reduce((a, e) => a + e.allocated, 0), entries };
  }

  async recover(entry: JournalEntry): Promise<string> {
    return `${entry.op} of ${entry.volume}: nothing to recover on the in-memory engine`;
  }
}
