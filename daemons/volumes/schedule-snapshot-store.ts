// Part of stacd's storage assembly: adapts the VolumeService to the schedules' SnapshotStore through its public
// API only, with snapshot metadata in a sidecar file (qcow2 has no place for it). Schedules know no volumes.
import { statfsSync } from 'node:fs';
import type { VolumeService } from './service.js';
import type { SnapshotStore, VolumeRef, SnapshotRef, SnapshotMeta, PoolSpace } from '../schedules/snapshot-store.js';
import type { Clock } from '../schedules/clock.js';
import { SnapshotMetaSidecar } from '../schedules/meta-sidecar.js';

export class VolumeServiceStore implements SnapshotStore {
  private readonly sidecar: SnapshotMetaSidecar;

  constructor(
    private readonly service: VolumeService,
    private readonly clock: Clock,
    sidecarFile: string,
  ) {
    this.sidecar = new SnapshotMetaSidecar(sidecarFile);
  }

  async listVolumes(): Promise<VolumeRef[]> {
    return (await this.service.listVolumes()).map((v) => ({ name: v.name, labels: {} }));
  }

  async listSnapshots(volume: string): Promise<SnapshotRef[]> {
    const snaps = await this.service.listSnapshots(volume);
    this.sidecar.prune(volume, new Set(snaps.map((s) => s.name)));
    return snaps.map((s) => {
      const { createdAt, ...meta } = this.sidecar.get(volume, s.name);
      return { name: s.name, createdAt: createdAt ?? s.createdAt * 1000, meta };
    });
  }

  async createSnapshot(volume: string, name: string, meta: SnapshotMeta): Promise<SnapshotRef> {
    const createdAt = this.clock.now();
    // metadata first: a crash between the two leaves an entry that prune() drops, never an unowned snapshot
    this.sidecar.set(volume, name, { ...meta, createdAt });
    try {
      await this.service.createSnapshot(volume, name);
    } catch (e) {
      this.sidecar.delete(volume, name);
      throw e;
    }
    return { name, createdAt, meta: { ...meta } };
  }

  async deleteSnapshot(volume: string, name: string): Promise<void> {
    await this.service.deleteSnapshot(volume, name);
    this.sidecar.delete(volume, name);
  }

  async setHold(volume: string, name: string, reason: string | null): Promise<void> {
    await this.service.getSnapshot(volume, name); // rejects for an unknown snapshot
    const e = this.sidecar.get(volume, name);
    if (reason === null) delete e.hold;
    else e.hold = reason;
    this.sidecar.set(volume, name, e);
  }

  async poolSpace(volume: string): Promise<PoolSpace | null> {
    const v = await this.service.getVolume(volume);
    const pool = this.service.listPools().find((p) => p.name === v.pool);
    if (!pool || pool.backend !== 'qcow2') return null;
    const s = statfsSync(pool.location);
    return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  }
}
