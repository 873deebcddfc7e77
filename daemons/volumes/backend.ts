// The contract between the volume semantics (service.ts) and a storage engine (qcow2 files, Ceph RBD).
// Backends do what they are told with the engine's own tools and report facts; every product rule
// (limits, guards, backup before rollback, name rules) lives once in the service above them.
import type { JournalEntry } from '../jobs/journal.js';

/** `sim`: the in-memory engine (sim-backend.ts) for tests and demos */
export type BackendKind = 'qcow2' | 'rbd' | 'sim';

/** QoS limits in operations or bytes per second; 0 means "no limit". Enforced at attach time (qcow2) or by librbd. */
export interface QosLimits {
  iops: number;
  iopsBurst: number;
  bps: number;
  bpsBurst: number;
}

export type PerformancePriority = 'normal' | 'high';

/** The connector's own per-volume metadata (what the image formats have no place for). */
export interface VolumeMeta {
  qos: QosLimits;
  priority: PerformancePriority;
}

export interface ParentRef {
  volume: string;
  snapshot: string;
}

export interface VolumeInfo {
  /** stable identifier: survives rename (qcow2: generated; rbd: the image id) */
  id: string;
  name: string;
  pool: string;
  backend: BackendKind;
  /** provisioned (virtual) size in bytes */
  size: number;
  /** bytes actually allocated on the host / cluster for the head image */
  allocated: number;
  /** where this volume was cloned from while it still depends on it; null once flattened */
  parent: ParentRef | null;
  snapshotCount: number;
  meta: VolumeMeta;
  /** unix seconds */
  createdAt: number;
}

export interface SnapshotInfo {
  name: string;
  volume: string;
  /** the volume's size when the snapshot was taken */
  size: number;
  protected: boolean;
  /** unix seconds */
  createdAt: number;
}

export interface UsageEntry {
  /** snapshot name, or null for the volume head */
  snapshot: string | null;
  provisioned: number;
  allocated: number;
}

export interface Usage {
  provisioned: number;
  allocated: number;
  entries: UsageEntry[];
}

/** Passed to long operations: cancellation, progress, and journal phase records for crash recovery. */
export interface OpContext {
  signal?: AbortSignal;
  /** percent 0..100 as reported by the engine's tool */
  onProgress?: (percent: number) => void;
  /** records a phase in the journal (fsynced) before the side effect that follows it */
  step?: (phase: string, data?: Record<string, string | number | boolean>) => Promise<void>;
}

export interface Backend {
  readonly kind: BackendKind;
  /** the pool name the service uses for this backend ("default" for the [Volumes] section) */
  readonly pool: string;
  /** where the data lives (a directory, or "cephpool" for rbd), for display */
  readonly location: string;

  /** prepares directories / checks the cluster is reachable */
  open(): Promise<void>;

  listVolumes(): Promise<VolumeInfo[]>;
  /** throws NotFoundError */
  getVolume(name: string): Promise<VolumeInfo>;
  hasVolume(name: string): Promise<boolean>;
  createVolume(name: string, size: number, meta: VolumeMeta, ctx?: OpContext): Promise<void>;
  /** removes a volume and all its snapshots (the service has checked nothing depends on them) */
  deleteVolume(name: string, ctx?: OpContext): Promise<void>;
  resizeVolume(name: string, size: number, allowShrink: boolean, ctx?: OpContext): Promise<void>;
  renameVolume(from: string, to: string): Promise<void>;
  setMeta(name: string, meta: VolumeMeta): Promise<void>;
  /** true while a consumer (QEMU, librbd client) has the image open */
  isAttached(name: string): Promise<boolean>;
  /** true while stas's own storage daemon holds the volume open: online operations go through it */
  heldByEngine?(name: string): boolean;
  /** opens the volume in the storage daemon and gives nvmet a block device or file to serve */
  exportVolume?(name: string): Promise<{ devicePath: string }>;
  /** opens the volume in the storage daemon for userspace NBD clients */
  openVolume?(name: string): Promise<{ nbdUri: string }>;
  /** closes what exportVolume/openVolume opened: the volume is offline again */
  closeVolume?(name: string): Promise<void>;

  listSnapshots(name: string): Promise<SnapshotInfo[]>;
  createSnapshot(name: string, snap: string, ctx?: OpContext): Promise<void>;
  deleteSnapshot(name: string, snap: string, ctx?: OpContext): Promise<void>;
  protectSnapshot(name: string, snap: string, ctx?: OpContext): Promise<void>;
  unprotectSnapshot(name: string, snap: string, ctx?: OpContext): Promise<void>;
  /** volumes (names) that depend on this snapshot: clones, and clones' bases built on it */
  snapshotChildren(name: string, snap: string): Promise<string[]>;
  /** clone-chain depth of a volume (0 without a parent), or with `snap` the depth a clone of name@snap would have */
  cloneDepth(name: string, snap?: string): Promise<number>;
  /** creates `target` from the protected snapshot name@snap, thin or flattened */
  cloneVolume(
    name: string,
    snap: string,
    target: string,
    flatten: boolean,
    meta: VolumeMeta,
    ctx?: OpContext,
  ): Promise<void>;
  /** copies the parent's data into the volume and drops the dependency */
  flattenVolume(name: string, ctx?: OpContext): Promise<void>;
  /** reverts the head to the snapshot (the service has taken the backup snapshot) */
  rollbackVolume(name: string, snap: string, ctx?: OpContext): Promise<void>;
  usage(name: string): Promise<Usage>;

  /** finishes or undoes an operation a crash interrupted; returns what it did, for the log */
  recover(entry: JournalEntry): Promise<string>;
}

export const NO_QOS: QosLimits = { iops: 0, iopsBurst: 0, bps: 0, bpsBurst: 0 };
export const DEFAULT_META: VolumeMeta = { qos: { ...NO_QOS }, priority: 'normal' };
