// The D-Bus face of volumes, snapshots and jobs (org.nvmexpress.stac.Storage1, Volume1, Snapshot1, Job1),
// exported from the XML in dbus-interfaces/ by the shared D-Bus layer. A thin adapter over VolumeService
// and JobRunner: it keeps one object per volume/snapshot/job in step with the service's change events,
// answers ObjectManager.GetManagedObjects from its caches, and emits PropertiesChanged on differences.
import dbus from 'dbus-next';
import type { MessageBus } from '../../dbus/bus.js';
import { ExportedObject, type DBusValue } from '../../dbus/exported-object.js';
import { interfaceFile } from '../../dbus/interfaces-dir.js';
import type { VolumeService, VolumeChange } from '../service.js';
import type { Job, JobRunner } from '../../jobs/runner.js';
import type { PerformancePriority, QosLimits, SnapshotInfo, VolumeInfo } from '../backend.js';
import { InvalidArgumentError, NotFoundError, STORAGE_ERROR_PREFIX } from '../errors.js';
import { log } from '../../common/log.js';
import { CallerLimiter } from '../../dbus/caller.js';

export const STORAGE_IFACE = 'org.nvmexpress.stac.Storage1';
export const VOLUME_IFACE = 'org.nvmexpress.stac.Volume1';
export const SNAPSHOT_IFACE = 'org.nvmexpress.stac.Snapshot1';
export const JOB_IFACE = 'org.nvmexpress.stac.Job1';
export const OBJECT_MANAGER_IFACE = 'org.freedesktop.DBus.ObjectManager';
export const STORAGE_PATH = '/org/nvmexpress/stac/storage';

/** Member names that change state: the D-Bus policy allows them to root only. */
export const MUTATING_MEMBERS: Record<string, string[]> = {
  [STORAGE_IFACE]: ['CreateVolume'],
  [VOLUME_IFACE]: ['Resize', 'Rename', 'SetQos', 'Clone', 'Flatten', 'Rollback', 'Delete', 'CreateSnapshot'],
  [SNAPSHOT_IFACE]: ['Protect', 'Unprotect', 'Delete'],
  [JOB_IFACE]: ['Cancel'],
};

/**
 * Read-only calls that run tools (Usage, IsAttached, Children, and the schedules' PlanRetention/SnapshotFreshness):
 * what one unprivileged user may have in progress. Root's calls are not counted (daemons/dbus/caller.ts).
 */
export const storageReadLimiter = new CallerLimiter({
  perUser: 8,
  queuePerUser: 32,
  perSender: 4,
  errorName: `${STORAGE_ERROR_PREFIX}LimitExceeded`,
});
const limited = <T>(fn: () => Promise<T>): Promise<T> => storageReadLimiter.run(fn);

/** D-Bus object path element: bytes outside [A-Za-z0-9] become _xx (hex), as systemd does. */
export function escapePathElement(s: string): string {
  if (s === '') return '_';
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9]/.test(c) ? c : `_${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

export function volumePath(pool: string, id: string): string {
  return `${STORAGE_PATH}/pool/${escapePathElement(pool)}/${escapePathElement(id)}`;
}
export function snapshotPath(volPath: string, snap: string): string {
  return `${volPath}/${escapePathElement(snap)}`;
}
export function jobPath(id: string): string {
  return `${STORAGE_PATH}/job/${escapePathElement(id)}`;
}

type PropTable<T> = Record<string, [signature: string, get: (v: T) => DBusValue]>;

const VOLUME_PROPS: PropTable<VolumeInfo> = {
  Name: ['s', (v) => v.name],
  Id: ['s', (v) => v.id],
  Pool: ['s', (v) => v.pool],
  Backend: ['s', (v) => v.backend],
  Size: ['t', (v) => BigInt(v.size)],
  Allocated: ['t', (v) => BigInt(v.allocated)],
  Parent: ['s', (v) => (v.parent ? `${v.parent.volume}@${v.parent.snapshot}` : '')],
  SnapshotCount: ['u', (v) => v.snapshotCount],
  QosIops: ['t', (v) => BigInt(v.meta.qos.iops)],
  QosIopsBurst: ['t', (v) => BigInt(v.meta.qos.iopsBurst)],
  QosBps: ['t', (v) => BigInt(v.meta.qos.bps)],
  QosBpsBurst: ['t', (v) => BigInt(v.meta.qos.bpsBurst)],
  PerformancePriority: ['s', (v) => v.meta.priority],
  Created: ['x', (v) => BigInt(v.createdAt)],
};

interface SnapState {
  info: SnapshotInfo;
  volPath: string;
}
const SNAPSHOT_PROPS: PropTable<SnapState> = {
  Name: ['s', (s) => s.info.name],
  Volume: ['o', (s) => s.volPath],
  VolumeName: ['s', (s) => s.info.volume],
  Size: ['t', (s) => BigInt(s.info.size)],
  Protected: ['b', (s) => s.info.protected],
  Created: ['x', (s) => BigInt(s.info.createdAt)],
};

const JOB_PROPS: PropTable<Job> = {
  Id: ['s', (j) => j.id],
  Operation: ['s', (j) => j.operation],
  Object: ['s', (j) => j.object],
  State: ['s', (j) => j.state],
  Progress: ['u', (j) => j.progress],
  Cancellable: ['b', (j) => j.cancellable],
  Result: ['s', (j) => j.result],
  ErrorName: ['s', (j) => (j.errorCode ? `${STORAGE_ERROR_PREFIX}${j.errorCode}` : '')],
  Error: ['s', (j) => j.error],
  Created: ['x', (j) => BigInt(Math.floor(j.createdAt / 1000))],
  Finished: ['x', (j) => BigInt(Math.floor(j.finishedAt / 1000))],
};

function propertyImpls<T>(table: PropTable<T>, current: () => T): Record<string, { get(): DBusValue }> {
  const out: Record<string, { get(): DBusValue }> = {};
  for (const [name, [, get]] of Object.entries(table)) out[name] = { get: () => get(current()) };
  return out;
}

function variants<T>(table: PropTable<T>, value: T): Record<string, dbus.Variant> {
  const out: Record<string, dbus.Variant> = {};
  for (const [name, [sig, get]] of Object.entries(table)) out[name] = new dbus.Variant(sig, get(value));
  return out;
}

/** properties whose D-Bus value differs between two states */
function changed<T>(table: PropTable<T>, before: T, after: T): Record<string, DBusValue> {
  const out: Record<string, DBusValue> = {};
  for (const [name, [, get]] of Object.entries(table)) {
    const a = get(before);
    const b = get(after);
    if (a !== b) out[name] = b;
  }
  return out;
}

// ---- a{sv} options -----------------------------------------------------------------------------------
function unwrap(v: unknown): unknown {
  return v instanceof dbus.Variant ? v.value : v;
}
function optNumber(opts: Record<string, unknown>, key: string): number | undefined {
  const v = unwrap(opts[key]);
  if (v === undefined) return undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  throw new InvalidArgumentError(`option ${key}: expected an unsigned integer`);
}
function optString(opts: Record<string, unknown>, key: string): string | undefined {
  const v = unwrap(opts[key]);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new InvalidArgumentError(`option ${key}: expected a string`);
  return v;
}
function optBool(opts: Record<string, unknown>, key: string): boolean | undefined {
  const v = unwrap(opts[key]);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`option ${key}: expected a boolean`);
  return v;
}
function checkKeys(opts: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(opts))
    if (!allowed.includes(k)) throw new InvalidArgumentError(`unknown option "${k}" (known: ${allowed.join(', ')})`);
}
const QOS_KEYS = ['qos_iops', 'qos_iops_burst', 'qos_bps', 'qos_bps_burst', 'performance_priority'];
function qosFrom(opts: Record<string, unknown>): { qos: Partial<QosLimits>; priority?: PerformancePriority } {
  const qos: Partial<QosLimits> = {};
  const set = (k: keyof QosLimits, key: string): void => {
    const v = optNumber(opts, key);
    if (v !== undefined) qos[k] = v;
  };
  set('iops', 'qos_iops');
  set('iopsBurst', 'qos_iops_burst');
  set('bps', 'qos_bps');
  set('bpsBurst', 'qos_bps_burst');
  const p = optString(opts, 'performance_priority');
  return { qos, ...(p !== undefined ? { priority: p as PerformancePriority } : {}) };
}
function sizeArg(v: unknown): number {
  const n = typeof v === 'bigint' ? v : BigInt(v as number);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidArgumentError(`size: ${n} exceeds the maximum of 512 TiB`);
  return Number(n);
}

// ---- objects ------------------------------------------------------------------------------------------
interface VolumeEntry {
  path: string;
  info: VolumeInfo;
  object: ExportedObject;
  snapshots: Map<string, { state: SnapState; object: ExportedObject; path: string }>;
}

export class StorageDBus {
  private manager?: ExportedObject;
  /** by object path */
  private readonly volumes = new Map<string, VolumeEntry>();
  private readonly jobObjects = new Map<string, ExportedObject>();
  private queue: Promise<void> = Promise.resolve();
  private removeHook?: () => void;
  private readonly onJobAdded = (j: Job): void => this.exportJob(j);
  private readonly onJobRemoved = (j: Job): void => this.unexportJob(j);
  /** other stacd objects reported by this ObjectManager (the access paths) */
  private readonly managedSources: (() => Record<string, Record<string, Record<string, dbus.Variant>>>)[] = [];

  constructor(
    readonly bus: MessageBus,
    readonly service: VolumeService,
    readonly jobs: JobRunner,
  ) {}

  /** exports the manager and one object per existing volume, snapshot and job */
  async start(): Promise<void> {
    this.manager = ExportedObject.create(this.bus, STORAGE_PATH, interfaceFile(STORAGE_IFACE), {
      [STORAGE_IFACE]: {
        methods: {
          CreateVolume: async (name: string, size: bigint, options: Record<string, unknown>): Promise<string> => {
            checkKeys(options, ['pool', ...QOS_KEYS]);
            const v = await this.service.createVolume({
              name,
              size: sizeArg(size),
              pool: optString(options, 'pool'),
              ...qosFrom(options),
            });
            await this.refresh({ pool: v.pool, volume: v.name });
            return volumePath(v.pool, v.id);
          },
          ListVolumes: (): string[] => [...this.volumes.keys()].sort(),
          FindVolumeByName: (name: string): string => this.entryByName(name).path,
          ListJobs: (): string[] => this.jobs.list().map((j) => jobPath(j.id)),
        },
        properties: {
          Pools: { get: () => this.service.listPools().map((p) => [p.name, p.backend, p.location]) },
          MaxParallelJobs: { get: () => this.jobs.maxParallel },
        },
      },
      [OBJECT_MANAGER_IFACE]: {
        methods: { GetManagedObjects: () => this.managedObjects() },
      },
    });
    this.removeHook = this.service.addChangeHook((c) => this.refresh(c));
    this.jobs.on('added', this.onJobAdded);
    this.jobs.on('removed', this.onJobRemoved);
    for (const v of await this.service.listVolumes()) await this.refresh({ pool: v.pool, volume: v.name });
    for (const j of this.jobs.list()) this.exportJob(j);
  }

  stop(): void {
    this.removeHook?.();
    this.jobs.off('added', this.onJobAdded);
    this.jobs.off('removed', this.onJobRemoved);
    for (const e of this.volumes.values()) {
      for (const s of e.snapshots.values()) s.object.unexport();
      e.object.unexport();
    }
    this.volumes.clear();
    for (const o of this.jobObjects.values()) o.unexport();
    this.jobObjects.clear();
    this.manager?.unexport();
  }

  private entryByName(name: string): VolumeEntry {
    for (const e of this.volumes.values()) if (e.info.name === name) return e;
    throw new NotFoundError(`volume "${name}" not found`);
  }

  /** Adds objects exported elsewhere in stacd to GetManagedObjects; their owner calls added()/removed(). */
  addManagedSource(source: () => Record<string, Record<string, Record<string, dbus.Variant>>>): void {
    this.managedSources.push(source);
  }

  private managedObjects(): Record<string, Record<string, Record<string, dbus.Variant>>> {
    const out: Record<string, Record<string, Record<string, dbus.Variant>>> = {};
    for (const source of this.managedSources) Object.assign(out, source());
    for (const e of this.volumes.values()) {
      out[e.path] = { [VOLUME_IFACE]: variants(VOLUME_PROPS, e.info) };
      for (const s of e.snapshots.values()) out[s.path] = { [SNAPSHOT_IFACE]: variants(SNAPSHOT_PROPS, s.state) };
    }
    for (const j of this.jobs.list())
      if (this.jobObjects.has(j.id)) out[jobPath(j.id)] = { [JOB_IFACE]: variants(JOB_PROPS, j) };
    return out;
  }

  /** InterfacesAdded / InterfacesRemoved of the ObjectManager */
  added(path: string, iface: string, props: Record<string, dbus.Variant>): void {
    this.manager?.emitSignal(OBJECT_MANAGER_IFACE, 'InterfacesAdded', path, { [iface]: props });
  }
  removed(path: string, iface: string): void {
    this.manager?.emitSignal(OBJECT_MANAGER_IFACE, 'InterfacesRemoved', path, [iface]);
  }

  /** brings the objects of one volume in line with the service; serialised, never throws */
  refresh(c: VolumeChange): Promise<void> {
    this.queue = this.queue.then(() =>
      this.refreshNow(c).catch((e: unknown) =>
        log().warn({ change: c, err: (e as Error).message }, 'D-Bus refresh failed'),
      ),
    );
    return this.queue;
  }

  private async refreshNow(c: VolumeChange): Promise<void> {
    const old = [...this.volumes.values()].find(
      (e) => e.info.pool === c.pool && (e.info.name === c.volume || e.info.name === c.renamedFrom),
    );
    if (c.removed) {
      if (old) this.dropVolume(old);
      return;
    }
    let info: VolumeInfo;
    try {
      info = await this.service.getVolume(c.volume);
    } catch (e) {
      if (e instanceof NotFoundError && old) this.dropVolume(old);
      if (e instanceof NotFoundError) return;
      throw e;
    }
    const path = volumePath(info.pool, info.id);
    let entry = this.volumes.get(path);
    if (!entry) {
      const holder: { info: VolumeInfo } = { info };
      const object = ExportedObject.create(this.bus, path, interfaceFile(VOLUME_IFACE), {
        [VOLUME_IFACE]: {
          methods: this.volumeMethods(path),
          properties: propertyImpls(VOLUME_PROPS, () => this.volumes.get(path)?.info ?? holder.info),
        },
      });
      entry = { path, info, object, snapshots: new Map() };
      this.volumes.set(path, entry);
      this.added(path, VOLUME_IFACE, variants(VOLUME_PROPS, info));
    } else {
      const diff = changed(VOLUME_PROPS, entry.info, info);
      entry.info = info;
      if (Object.keys(diff).length > 0) entry.object.emitPropertiesChanged(VOLUME_IFACE, diff);
    }
    await this.refreshSnapshots(entry);
  }

  private async refreshSnapshots(entry: VolumeEntry): Promise<void> {
    const snaps = await this.service.listSnapshots(entry.info.name);
    const seen = new Set<string>();
    for (const info of snaps) {
      const path = snapshotPath(entry.path, info.name);
      seen.add(path);
      const state: SnapState = { info, volPath: entry.path };
      const cur = entry.snapshots.get(path);
      if (!cur) {
        const volPath = entry.path;
        const object = ExportedObject.create(this.bus, path, interfaceFile(SNAPSHOT_IFACE), {
          [SNAPSHOT_IFACE]: {
            methods: this.snapshotMethods(volPath, info.name),
            properties: propertyImpls(
              SNAPSHOT_PROPS,
              () => this.volumes.get(volPath)?.snapshots.get(path)?.state ?? state,
            ),
          },
        });
        entry.snapshots.set(path, { state, object, path });
        this.added(path, SNAPSHOT_IFACE, variants(SNAPSHOT_PROPS, state));
      } else {
        const diff = changed(SNAPSHOT_PROPS, cur.state, state);
        cur.state = state;
        if (Object.keys(diff).length > 0) cur.object.emitPropertiesChanged(SNAPSHOT_IFACE, diff);
      }
    }
    for (const [path, s] of entry.snapshots) {
      if (seen.has(path)) continue;
      s.object.unexport();
      entry.snapshots.delete(path);
      this.removed(path, SNAPSHOT_IFACE);
    }
  }

  private dropVolume(e: VolumeEntry): void {
    for (const s of e.snapshots.values()) {
      s.object.unexport();
      this.removed(s.path, SNAPSHOT_IFACE);
    }
    e.object.unexport();
    this.volumes.delete(e.path);
    this.removed(e.path, VOLUME_IFACE);
  }

  /** the volume's current name (it changes with Rename; the object path does not) */
  private nameAt(path: string): string {
    const e = this.volumes.get(path);
    if (!e) throw new NotFoundError(`volume object ${path} no longer exists`);
    return e.info.name;
  }

  private volumeMethods(path: string): Record<string, (...args: never[]) => DBusValue | Promise<DBusValue>> {
    return {
      Resize: async (size: bigint, allowShrink: boolean, force: boolean) =>
        jobPath((await this.service.resize(this.nameAt(path), sizeArg(size), allowShrink, force)).id),
      Rename: async (newName: string) => {
        await this.service.rename(this.nameAt(path), newName);
        await this.queue;
      },
      SetQos: async (opts: Record<string, unknown>) => {
        checkKeys(opts, QOS_KEYS);
        const q = qosFrom(opts);
        await this.service.setQos(this.nameAt(path), q.qos, q.priority);
        await this.queue;
      },
      Clone: async (snapshot: string, target: string, opts: Record<string, unknown>) => {
        checkKeys(opts, ['flatten', ...QOS_KEYS]);
        const job = await this.service.clone({
          volume: this.nameAt(path),
          snapshot,
          target,
          flatten: optBool(opts, 'flatten') ?? false,
          ...qosFrom(opts),
        });
        return jobPath(job.id);
      },
      Flatten: async () => jobPath((await this.service.flatten(this.nameAt(path))).id),
      Rollback: async (snapshot: string, force: boolean) =>
        jobPath((await this.service.rollback(this.nameAt(path), snapshot, force)).id),
      Delete: async (force: boolean) => jobPath((await this.service.deleteVolume(this.nameAt(path), force)).id),
      CreateSnapshot: async (name: string) => {
        const s = await this.service.createSnapshot(this.nameAt(path), name);
        await this.queue;
        return snapshotPath(path, s.name);
      },
      ListSnapshots: () => [...(this.volumes.get(path)?.snapshots.keys() ?? [])].sort(),
      FindSnapshot: (name: string) => {
        const p = snapshotPath(path, name);
        if (!this.volumes.get(path)?.snapshots.has(p))
          throw new NotFoundError(`snapshot "${this.nameAt(path)}@${name}" not found`);
        return p;
      },
      Usage: async () => {
        const u = await limited(() => this.service.usage(this.nameAt(path)));
        return [
          BigInt(u.provisioned),
          BigInt(u.allocated),
          u.entries
            .filter((e) => e.snapshot !== null)
            .map((e) => [e.snapshot ?? '', BigInt(e.provisioned), BigInt(e.allocated)]),
        ];
      },
      IsAttached: async () => limited(() => this.service.isAttached(this.nameAt(path))),
    };
  }

  private snapshotMethods(
    volPath: string,
    snap: string,
  ): Record<string, (...args: never[]) => DBusValue | Promise<DBusValue>> {
    return {
      Protect: async () => {
        await this.service.protectSnapshot(this.nameAt(volPath), snap);
        await this.queue;
      },
      Unprotect: async () => {
        await this.service.unprotectSnapshot(this.nameAt(volPath), snap);
        await this.queue;
      },
      Delete: async () => {
        await this.service.deleteSnapshot(this.nameAt(volPath), snap);
        await this.queue;
      },
      Children: async () => limited(() => this.service.snapshotChildren(this.nameAt(volPath), snap)),
    };
  }

  // ---- jobs -------------------------------------------------------------------------------------------
  private exportJob(job: Job): void {
    if (this.jobObjects.has(job.id)) return;
    const path = jobPath(job.id);
    const object = ExportedObject.create(this.bus, path, interfaceFile(JOB_IFACE), {
      [JOB_IFACE]: {
        methods: {
          Cancel: () => {
            this.jobs.cancel(job.id);
          },
        },
        properties: propertyImpls(JOB_PROPS, () => job),
      },
    });
    this.jobObjects.set(job.id, object);
    this.added(path, JOB_IFACE, variants(JOB_PROPS, job));
    let last = variantsPlain(job);
    job.on('changed', () => {
      const now = variantsPlain(job);
      const diff: Record<string, DBusValue> = {};
      for (const k of Object.keys(now)) if (now[k] !== last[k]) diff[k] = now[k];
      last = now;
      if (Object.keys(diff).length > 0) object.emitPropertiesChanged(JOB_IFACE, diff);
    });
    job.on('completed', () => object.emitSignal(JOB_IFACE, 'Completed', job.state, job.error));
  }

  private unexportJob(job: Job): void {
    const o = this.jobObjects.get(job.id);
    if (!o) return;
    o.unexport();
    this.jobObjects.delete(job.id);
    this.removed(jobPath(job.id), JOB_IFACE);
  }
}

function variantsPlain(job: Job): Record<string, DBusValue> {
  const out: Record<string, DBusValue> = {};
  for (const [name, [, get]] of Object.entries(JOB_PROPS)) out[name] = get(job);
  return out;
}
