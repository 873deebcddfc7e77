// Public entry of stacd's storage half, for stacd.ts: config → backends → journal + jobs → service (with
// crash recovery) → D-Bus objects. Everything else in daemons/volumes and daemons/jobs is internal to it.
import { join, resolve } from 'node:path';
import type { MessageBus } from '../dbus/bus.js';
import { Journal } from '../jobs/journal.js';
import { JobRunner } from '../jobs/runner.js';
import { VolumeService } from './service.js';
import { backendsFor, type VolumesConfig } from './config.js';
import { StorageDBus } from './dbus/storage-objects.js';
import { Qcow2Backend } from './qcow2-backend.js';
import { StorageEngine } from './storage-daemon/engine.js';
import { sweepLeftoverTools, toolPool } from './tool.js';

/** tool processes stacd may run besides its long jobs ([Volumes] max-jobs); unprivileged reads get 2 of them */
const TOOL_SLOTS_BESIDE_JOBS = 4;

export { parseVolumesConfig, type VolumesConfig } from './config.js';
export { StorageDBus } from './dbus/storage-objects.js';

export interface Storage {
  service: VolumeService;
  jobs: JobRunner;
  /** what start-up recovery finished or undid (one line per interrupted operation) */
  recovered: string[];
  /** the storage daemon holding open qcow2 volumes; undefined without qcow2 pools or when it cannot start */
  engine: StorageEngine | undefined;
  /** what attaching to the storage daemon found and repaired, or why it is unavailable */
  engineReport: string[];
}

export interface OpenStorageOptions {
  /** where the storage daemon's sockets live; without it open volumes are unavailable */
  runDir?: string;
  qsdBinary?: string;
}

/** Opens every configured pool and replays the journal under `<stateDir>/volumes-journal`. The storage daemon
 *  is attached first (started when none runs, reconciled with `<stateDir>/storage-daemon.json`), so that
 *  recovery of an operation on an open volume goes through it. */
export async function openStorage(
  cfg: VolumesConfig,
  stateDir: string,
  opts: OpenStorageOptions = {},
): Promise<Storage> {
  const jobs = new JobRunner({ maxParallel: cfg.maxJobs });
  // long jobs hold a tool slot for their whole run: quick operations keep TOOL_SLOTS_BESIDE_JOBS of their own
  toolPool.size = cfg.maxJobs + TOOL_SLOTS_BESIDE_JOBS;
  // tools an earlier stacd left running must be gone before anything here touches the files
  const swept = await sweepLeftoverTools(resolve(stateDir));
  const backends = backendsFor(cfg);
  const qcow2 = backends.filter((b): b is Qcow2Backend => b instanceof Qcow2Backend);
  let engine: StorageEngine | undefined;
  let engineReport: string[] = [];
  if (qcow2.length > 0 && opts.runDir) {
    try {
      const r = await StorageEngine.attach({
        runDir: opts.runDir,
        stateFile: join(stateDir, 'storage-daemon.json'),
        binary: opts.qsdBinary,
      });
      engine = r.engine;
      engineReport = r.report;
      for (const b of qcow2) b.useEngine(engine);
    } catch (e) {
      engineReport = [
        `storage daemon unavailable: ${(e as Error).message}; volumes work offline only (no export, no online snapshot)`,
      ];
    }
  }
  const service = new VolumeService(backends, new Journal(join(stateDir, 'volumes-journal')), jobs);
  try {
    const recovered = [...swept, ...(await service.open())];
    return { service, jobs, recovered, engine, engineReport };
  } catch (e) {
    engine?.detach();
    throw e;
  }
}

/** Exports Storage1 (+ ObjectManager) at /org/nvmexpress/stac/storage and one object per volume/snapshot/job. */
export async function exportStorage(bus: MessageBus, storage: Storage): Promise<StorageDBus> {
  const d = new StorageDBus(bus, storage.service, storage.jobs);
  await d.start();
  return d;
}
