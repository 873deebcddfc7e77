// Public entry of stacd's storage half, for stacd.ts: config → backends → journal + jobs → service (with
// crash recovery) → D-Bus objects. Everything else in daemons/volumes and daemons/jobs is internal to it.
import { join } from 'node:path';
import type { MessageBus } from '../dbus/bus.js';
import { Journal } from '../jobs/journal.js';
import { JobRunner } from '../jobs/runner.js';
import { VolumeService } from './service.js';
import { backendsFor, type VolumesConfig } from './config.js';
import { StorageDBus } from './dbus/storage-objects.js';

export { parseVolumesConfig, VolumesConfigError, type VolumesConfig, type PoolConfig } from './config.js';
export { VolumeService } from './service.js';
export { StorageDBus, MUTATING_MEMBERS } from './dbus/storage-objects.js';
export { parseSize, formatSize } from './size.js';

export interface Storage {
  service: VolumeService;
  jobs: JobRunner;
  /** what start-up recovery finished or undid (one line per interrupted operation) */
  recovered: string[];
}

/** Opens every configured pool and replays the journal under `<stateDir>/volumes-journal`. */
export async function openStorage(cfg: VolumesConfig, stateDir: string): Promise<Storage> {
  const jobs = new JobRunner({ maxParallel: cfg.maxJobs });
  const service = new VolumeService(backendsFor(cfg), new Journal(join(stateDir, 'volumes-journal')), jobs);
  const recovered = await service.open();
  return { service, jobs, recovered };
}

/** Exports Storage1 (+ ObjectManager) at /org/nvmexpress/stac/storage and one object per volume/snapshot/job. */
export async function exportStorage(bus: MessageBus, storage: Storage): Promise<StorageDBus> {
  const d = new StorageDBus(bus, storage.service, storage.jobs);
  await d.start();
  return d;
}
