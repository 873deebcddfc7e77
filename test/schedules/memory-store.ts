// In-memory SnapshotStore: the test double for pure-logic (simulated clock) tests of the scheduler.
// It behaves like a store should (unknown volumes and duplicate names are errors) and counts calls.
import type {
  SnapshotStore,
  VolumeRef,
  SnapshotRef,
  SnapshotMeta,
  PoolSpace,
} from '../../daemons/schedules/snapshot-store.js';
import type { Clock } from '../../daemons/schedules/clock.js';

export class MemoryStore implements SnapshotStore {
  readonly volumes = new Map<string, { labels: Record<string, string>; snaps: Map<string, SnapshotRef> }>();
  created = 0;
  deleted = 0;
  /** listSnapshots calls */
  listed = 0;
  /** pool space per volume (bytes); each snapshot uses `snapshotBytes` */
  totalBytes = 1000;
  baseUsedBytes = 0;
  snapshotBytes = 0;
  spaceKnown = true;

  constructor(private readonly clock: Clock) {}

  addVolume(name: string, labels: Record<string, string> = {}): void {
    this.volumes.set(name, { labels, snaps: new Map() });
  }

  /** Adds a snapshot with an explicit creation time (fixtures). */
  put(volume: string, name: string, createdAt: number, meta: SnapshotMeta = {}): void {
    this.vol(volume).snaps.set(name, { name, createdAt, meta: { ...meta } });
  }

  private vol(name: string): { labels: Record<string, string>; snaps: Map<string, SnapshotRef> } {
    const v = this.volumes.get(name);
    if (!v) throw new Error(`no such volume "${name}"`);
    return v;
  }

  names(volume: string): string[] {
    return [...this.vol(volume).snaps.values()].sort((a, b) => a.createdAt - b.createdAt).map((s) => s.name);
  }

  snapshots(volume: string): SnapshotRef[] {
    return [...this.vol(volume).snaps.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  async listVolumes(): Promise<VolumeRef[]> {
    return [...this.volumes.entries()].map(([name, v]) => ({ name, labels: { ...v.labels } }));
  }

  async listSnapshots(volume: string): Promise<SnapshotRef[]> {
    this.listed++;
    return [...this.vol(volume).snaps.values()].map((s) => ({ ...s, meta: { ...s.meta } }));
  }

  async createSnapshot(volume: string, name: string, meta: SnapshotMeta): Promise<SnapshotRef> {
    const v = this.vol(volume);
    if (v.snaps.has(name)) throw new Error(`snapshot "${name}" exists`);
    const s = { name, createdAt: this.clock.now(), meta: { ...meta } };
    v.snaps.set(name, s);
    this.created++;
    return { ...s };
  }

  async deleteSnapshot(volume: string, name: string): Promise<void> {
    const v = this.vol(volume);
    if (!v.snaps.delete(name)) throw new Error(`no snapshot "${name}"`);
    this.deleted++;
  }

  async setHold(volume: string, name: string, reason: string | null): Promise<void> {
    const s = this.vol(volume).snaps.get(name);
    if (!s) throw new Error(`no snapshot "${name}"`);
    if (reason === null) delete s.meta.hold;
    else s.meta.hold = reason;
  }

  async poolSpace(volume: string): Promise<PoolSpace | null> {
    this.vol(volume);
    if (!this.spaceKnown) return null;
    let n = 0;
    for (const v of this.volumes.values()) n += v.snaps.size;
    return { totalBytes: this.totalBytes, freeBytes: this.totalBytes - this.baseUsedBytes - n * this.snapshotBytes };
  }
}
