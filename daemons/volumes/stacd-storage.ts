// stacd's storage half as one unit: the pools of [Volumes*] (journal recovery first), their D-Bus objects,
// and the snapshot scheduler of [Schedule *] on top. A storage problem is logged and leaves stacd's
// connection management running: a broken pool must not cost the host its I/O paths.
import { join } from 'node:path';
import type { MessageBus } from '../dbus/bus.js';
import { answerWithError } from '../dbus/exported-object.js';
import { STORAGE_PATH } from './dbus/storage-objects.js';
import { STORAGE_STARTING_ERROR } from './errors.js';
import { log } from '../common/log.js';
import type { ConfigFileText, ServiceConfig } from '../config/service-config.js';
import { IniDocument, parseIniText } from '../config/ini.js';
import {
  openStorage,
  exportStorage,
  parseVolumesConfig,
  type Storage,
  type StorageDBus,
  type VolumesConfig,
} from './index.js';
import { SnapshotScheduler } from '../schedules/scheduler.js';
import { schedulesFromTexts } from '../schedules/config.js';
import { exportScheduleObject, SCHEDULES_PATH, type ScheduleObject } from '../schedules/dbus/schedule-object.js';
import { VolumeServiceStore } from './schedule-snapshot-store.js';
import { systemClock } from '../schedules/clock.js';
import type { PyValue } from '../common/pyfmt.js';
import type { Engine } from '../runtime/daemon-runtime.js';
import { startAccessPaths, type AccessPaths } from '../access-paths/index.js';

function volumesConfigOf(texts: readonly ConfigFileText[]): VolumesConfig {
  const doc = new IniDocument();
  for (const f of texts) parseIniText(doc, f.text, f.path);
  return parseVolumesConfig(doc);
}

/** Errors of the [Volumes*] and [Schedule *] sections (file:line: ...), checked with the rest of stacd.conf. */
export function checkStorageSections(texts: readonly ConfigFileText[]): string[] {
  const errors: string[] = [];
  try {
    volumesConfigOf(texts);
  } catch (e) {
    errors.push(`volumes: ${(e as Error).message}`);
  }
  for (const err of schedulesFromTexts(texts).errors) errors.push(err.message);
  return errors;
}

export interface StacdStorageOptions {
  bus: MessageBus;
  /** the configuration stacd started with (its texts: the storage sections are read from them, not re-read) */
  config: ServiceConfig;
  stateDir: string;
  /** the storage daemon's socket directory (stacd: <runtime>/storage-daemon) */
  runDir?: string;
  /** mixed into the schedules' jitter so that hosts do not all fire at once */
  hostId?: string;
}

export class StacdStorage {
  private storage: Storage | undefined;
  private dbus: StorageDBus | undefined;
  private scheduler: SnapshotScheduler | undefined;
  private scheduleObject: ScheduleObject | undefined;
  private accessPaths: AccessPaths | undefined;
  private accessPathStatus = 'not started';
  private status = 'not started';
  /** from construction (before stacd owns its name) until start() is done: calls get Error.Starting */
  private stopAnsweringStarting: () => void;

  constructor(private readonly opts: StacdStorageOptions) {
    this.stopAnsweringStarting = answerWithError(
      opts.bus,
      [STORAGE_PATH, SCHEDULES_PATH],
      STORAGE_STARTING_ERROR,
      'stacd is starting (opening volume pools, finishing operations a crash interrupted); try again shortly',
    );
  }

  async start(): Promise<void> {
    try {
      await this.startNow();
    } finally {
      this.stopAnsweringStarting();
    }
  }

  private async startNow(): Promise<void> {
    try {
      const cfg = volumesConfigOf(this.opts.config.texts);
      this.storage = await openStorage(cfg, this.opts.stateDir, { runDir: this.opts.runDir });
      for (const line of this.storage.engineReport)
        if (this.storage.engine) log().info(`volumes: storage daemon: ${line}`);
        else log().error(`volumes: ${line}`);
      for (const line of this.storage.recovered) log().warn(`volumes: recovered after a crash: ${line}`);
      this.dbus = await exportStorage(this.opts.bus, this.storage);
      this.status = `${cfg.pools.length} pool(s): ${cfg.pools.map((p) => `${p.name} (${p.backend})`).join(', ')}`;
      log().info(`volumes: ${this.status}`);
    } catch (e) {
      this.status = `unavailable: ${(e as Error).message}`;
      log().error(
        `volumes: ${(e as Error).message}; volumes and snapshots are unavailable, connections are not affected`,
      );
      return;
    }
    try {
      this.accessPaths = await startAccessPaths({
        bus: this.opts.bus,
        stateDir: this.opts.stateDir,
        volumes: this.storage.service,
        storageDBus: this.dbus,
        applianceId: this.opts.hostId ?? 'stas',
      });
      this.accessPathStatus = this.accessPaths.status;
      log().info(`access paths: ${this.accessPathStatus}`);
    } catch (e) {
      this.accessPathStatus = `unavailable: ${(e as Error).message}`;
      log().error(`access paths: ${(e as Error).message}; access paths are unavailable`);
    }
    try {
      this.startScheduler(this.storage);
    } catch (e) {
      log().error(`schedules: ${(e as Error).message}; snapshot schedules are unavailable`);
    }
  }

  private startScheduler(storage: Storage): void {
    const loaded = schedulesFromTexts(this.opts.config.texts);
    for (const err of loaded.errors) log().error(`schedules: ${err.message}`);
    this.scheduler = new SnapshotScheduler({
      store: new VolumeServiceStore(storage.service, systemClock, join(this.opts.stateDir, 'snapshot-meta.json')),
      clock: systemClock,
      stateDir: this.opts.stateDir,
      ...(this.opts.hostId ? { hostId: this.opts.hostId } : {}),
      configSchedules: loaded.schedules,
      onRunFinished: (run) => this.scheduleObject?.runFinished(run),
    });
    this.scheduleObject = exportScheduleObject(this.opts.bus, this.scheduler);
    this.scheduler.start();
  }

  /** SIGHUP: schedules follow the file; pools are opened once (a pool change needs a restart, and says so). */
  reload(config: ServiceConfig): void {
    if (!this.scheduler) return;
    // the texts the runtime validated: a file edited again since then cannot slip in unchecked
    const loaded = schedulesFromTexts(config.texts);
    for (const err of loaded.errors) log().error(`schedules: ${err.message}`);
    this.scheduler.reload(loaded.schedules);
    log().info(
      `schedules: ${loaded.schedules.length} from the configuration; [Volumes] changes take effect when stacd restarts`,
    );
  }

  /** the volumes (for the access paths: exportVolume / unexportVolume), once started */
  get service(): Storage['service'] | undefined {
    return this.storage?.service;
  }

  processInfo(): Record<string, PyValue> {
    return {
      'stas.volumes': this.status,
      'stas.schedules': this.scheduler ? this.scheduler.list().length : 0,
      'stas.access_paths': this.accessPaths
        ? `${this.accessPaths.service.list().length} access path(s)`
        : this.accessPathStatus,
    };
  }

  async stop(): Promise<void> {
    this.stopAnsweringStarting();
    await this.scheduler?.stop();
    // nvmet keeps serving: the exports outlive stacd
    this.accessPaths?.dbus.stop();
    this.dbus?.stop();
    // the storage daemon and its exports outlive stacd: only our connection to it goes
    this.storage?.engine?.detach();
  }
}

/** stacd's engine = the connector's engine plus the storage half (started after the bus name is owned). */
export function withStorage(engine: Engine<ServiceConfig>, storage: StacdStorage): Engine<ServiceConfig> {
  return {
    interfaces: () => engine.interfaces(),
    processInfo: () => ({ ...engine.processInfo(), ...storage.processInfo() }),
    controllerInfo: (tid) => engine.controllerInfo(tid),
    start: async () => {
      await engine.start();
      await storage.start();
    },
    reload: async (config, changes) => {
      await engine.reload(config, changes);
      storage.reload(config);
    },
    stop: async () => {
      await storage.stop();
      await engine.stop();
    },
  };
}
