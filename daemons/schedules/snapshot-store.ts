// The narrow view of the volumes service that schedules need. The volumes service (daemons/volumes/) is
// adapted to this interface by stacd; schedules never reach into its internals, and pure-logic tests use
// an in-memory implementation of it.

export interface VolumeRef {
  name: string;
  /** user labels (key → value), used by `label:key=value` selectors */
  labels: Record<string, string>;
}

/** Metadata schedules store with each snapshot (kept by the volumes service with the snapshot). */
export interface SnapshotMeta {
  /** name of the schedule that made the snapshot; absent for manual snapshots. Only these are ever pruned by that schedule. */
  createdBy?: string;
  /** reason of a hold; a held snapshot is never pruned */
  hold?: string;
}

export interface SnapshotRef {
  name: string;
  /** creation time, UTC milliseconds since the epoch */
  createdAt: number;
  meta: SnapshotMeta;
}

export interface PoolSpace {
  totalBytes: number;
  freeBytes: number;
}

export interface SnapshotStore {
  listVolumes(): Promise<VolumeRef[]>;
  /** snapshots of one volume, any order; rejects for an unknown volume */
  listSnapshots(volume: string): Promise<SnapshotRef[]>;
  /** creates the snapshot with its metadata; resolves with what was created */
  createSnapshot(volume: string, name: string, meta: SnapshotMeta): Promise<SnapshotRef>;
  deleteSnapshot(volume: string, name: string): Promise<void>;
  /** sets (reason) or releases (null) a hold */
  setHold(volume: string, name: string, reason: string | null): Promise<void>;
  /** space of the pool holding `volume`; null when the backend cannot tell (the free-space guard then does nothing) */
  poolSpace(volume: string): Promise<PoolSpace | null>;
}
