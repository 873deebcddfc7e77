// Snapshot metadata (createdBy, hold, the scheduler's creation instant) for backends that cannot store it
// with the snapshot (qcow2 internal snapshots have a name and a date only). One JSON file, replaced atomically;
// entries of snapshots that no longer exist are dropped on the next write.
import { readJson, writeJsonAtomic } from './persist.js';
import type { SnapshotMeta } from './snapshot-store.js';

export interface SidecarEntry extends SnapshotMeta {
  /** UTC ms, as the scheduler's clock saw it when the snapshot was made */
  createdAt?: number;
}

interface SidecarFile {
  version: 1;
  /** "volume@snapshot" → entry */
  snapshots: Record<string, SidecarEntry>;
}

export class SnapshotMetaSidecar {
  private data: SidecarFile;

  constructor(private readonly file: string) {
    const d = readJson(file) as SidecarFile | undefined;
    this.data = d && d.version === 1 && typeof d.snapshots === 'object' ? d : { version: 1, snapshots: {} };
  }

  get(volume: string, snapshot: string): SidecarEntry {
    return { ...(this.data.snapshots[`${volume}@${snapshot}`] ?? {}) };
  }

  set(volume: string, snapshot: string, entry: SidecarEntry): void {
    this.data.snapshots[`${volume}@${snapshot}`] = { ...entry };
    writeJsonAtomic(this.file, this.data);
  }

  delete(volume: string, snapshot: string): void {
    if (delete this.data.snapshots[`${volume}@${snapshot}`]) writeJsonAtomic(this.file, this.data);
  }

  /** Forgets entries of a volume whose snapshots are not in `existing` (deleted behind our back). */
  prune(volume: string, existing: ReadonlySet<string>): void {
    let changed = false;
    for (const key of Object.keys(this.data.snapshots)) {
      const at = key.lastIndexOf('@');
      if (key.slice(0, at) === volume && !existing.has(key.slice(at + 1))) {
        delete this.data.snapshots[key];
        changed = true;
      }
    }
    if (changed) writeJsonAtomic(this.file, this.data);
  }
}
