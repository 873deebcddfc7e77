// stacd's storage half as one unit: the pools of [Volumes*] (journal recovery first), their D-Bus objects,
// and the snapshot scheduler of [Schedule *] on top. A storage problem is logged and leaves stacd's
// connection management running: a broken pool must not cost the host its I/O paths.
import { join } from 'node:path';
import type { MessageBus } from '../dbus/bus.js';
import { log } from '../common/log.js';
import { readConfigFiles } from '../config/service-config.js';
import { IniDocument, parseIniText } from '../config/ini.js';
import { openStorage, exportStorage, parseVolumesConfig, type Storage, type StorageDBus } from './index.js';
import { SnapshotScheduler } from '../schedules/scheduler.js';
import { loadScheduleConfig } from '../schedules/config.js';
import { exportScheduleObject, type ScheduleObject } from '../schedules/dbus/schedule-object.js';
import { VolumeServiceStore } from './schedule-snapshot-store.js';
import { systemClock } from '../schedules/clock.js';
import type { PyValue } from '../common/pyfmt.js';
import type { Engine } from '../common/daemon-runtime.js';

export interface StacdStorageOptions {
  bus: MessageBus;
  confFile: string;
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
  private status = 'not started';

  constructor(private readonly opts: StacdStorageOptions) {}

  async start(): Promise<void> {
    try {
      const doc = new IniDocument();
      for (const f of readConfigFiles(this.opts.confFile)) parseIniText(doc, f.text, f.path);
      const cfg = parseVolumesConfig(doc);
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
      log().error(`volumes: ${(e as Error).message}; volumes and snapshots are unavailable, connections are not affected`);
      return;
    }
    try {
      this.startScheduler(this.storage);
    } catch (e) {
      log().error(`schedules: ${(e as Error).message}; snapshot schedules are unavailable`);
    }
  }

  private startScheduler(storage: Storage): void {
    const loaded = loadScheduleConfig(this.opts.confFile);
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
  reload(): void {
    if (!this.scheduler) return;
    const loaded = loadScheduleConfig(this.opts.confFile);
    for (const err of loaded.errors) log().error(`schedules: ${err.message}`);
    this.scheduler.reload(loaded.schedules);
    log().info(`schedules: ${loaded.schedules.length} from the configuration; [Volumes] changes take effect when stacd restarts`);
  }

  /** the volumes (for the access paths: exportVolume / unexportVolume), once started */
  get service(): Storage['service'] | undefined {
    return this.storage?.service;
  }

  processInfo(): Record<string, PyValue> {
    return { 'stas.volumes': this.status, 'stas.schedules': this.scheduler ? this.scheduler.list().length : 0 };
  }

  async stop(): Promise<void> {
    await this.scheduler?.stop();
    this.dbus?.stop();
    // the storage daemon and its exports outlive stacd: only our connection to it goes
    this.storage?.engine?.detach();
  }
}

/** stacd's engine = the connector's engine plus the storage half (started after the bus name is owned). */
export function withStorage<C>(engine: Engine<C>, storage: StacdStorage): Engine<C> {
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
      storage.reload();
    },
    stop: async () => {
      await storage.stop();
      await engine.stop();
    },
  };
}
