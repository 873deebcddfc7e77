// Access paths: the model (persisted in stacd's state directory), its mutations, and nvmet kept in step with
// it. Every mutation is checked in full (names, NQNs, key files, volumes, nvmet's own refusals) before
// anything changes; the new model is persisted only after nvmet serves it, so a failure leaves the old model
// and, for refusals, the old configfs. Mutations are serialised.
import { EventEmitter } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import { writeFileDurable } from '../common/durable-file.js';
import { log } from '../common/log.js';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError, NotSupportedError } from '../volumes/errors.js';
import type { NvmetTarget } from '../targets/nvmet.js';
import { namespaceIdentity, subsystemSerial, SUBSYSTEM_MODEL } from '../targets/identity.js';
import type { PortSpec, SubsystemSpec } from '../targets/types.js';
import { defaultNqn, MAX_NSID, nextNsid, validateAccessPathName, validateNqn, type AccessPath } from './model.js';
import { readKeyFile } from './keys.js';

/** what access paths need of the volumes (VolumeService, plus the storage daemon's export where there is one) */
export interface VolumeAccess {
  getVolume(name: string): Promise<{ name: string; pool: string; id: string }>;
  exportVolume?(name: string): Promise<{ devicePath: string }>;
  unexportVolume?(name: string): Promise<void>;
}

export interface AccessPathServiceOptions {
  stateFile: string;
  /** undefined: nvmet is not usable here; `targetProblem` says why */
  target: NvmetTarget | undefined;
  targetProblem?: string;
  volumes: VolumeAccess;
  /** mixed into default subsystem NQNs (the host NQN) */
  applianceId: string;
}

export interface CreateOptions {
  nqn?: string;
}

/** emits "changed" (AccessPath) and "removed" (name) after each mutation */
export class AccessPathService extends EventEmitter {
  private aps = new Map<string, AccessPath>();
  private queue: Promise<unknown> = Promise.resolve();
  /** volume name → what nvmet serves for it */
  private readonly devices = new Map<string, string>();

  constructor(private readonly opts: AccessPathServiceOptions) {
    super();
  }

  /** Loads the model and makes nvmet serve it (configfs is volatile: this re-creates after a reboot). */
  async open(): Promise<void> {
    try {
      const v = JSON.parse(await readFile(this.opts.stateFile, 'utf8')) as {
        version?: number;
        accessPaths?: AccessPath[];
      };
      if (v.version !== 1 || !Array.isArray(v.accessPaths)) throw new Error('not a version 1 access path file');
      for (const ap of v.accessPaths) this.aps.set(ap.name, ap);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new Error(`${this.opts.stateFile}: ${(e as Error).message}`);
    }
    if (!this.opts.target) {
      if (this.aps.size > 0)
        log().error(`access paths: ${this.aps.size} not served: ${this.opts.targetProblem ?? 'no kernel NVMe target'}`);
      return;
    }
    await this.serialised(() => this.apply([...this.aps.values()], { tolerant: true }));
  }

  list(): AccessPath[] {
    return [...this.aps.values()].sort((a, b) => a.name.localeCompare(b.name)).map((a) => structuredClone(a));
  }

  get(name: string): AccessPath {
    const ap = this.aps.get(name);
    if (!ap) throw new NotFoundError(`access path "${name}" not found`);
    return structuredClone(ap);
  }

  /** access paths that serve `volume` (the volume guards use it) */
  mappedIn(volume: string): string[] {
    return this.list()
      .filter((a) => a.volumes.some((v) => v.volume === volume))
      .map((a) => a.name);
  }

  create(name: string, ports: PortSpec[], o: CreateOptions = {}): Promise<AccessPath> {
    return this.serialised(async () => {
      validateAccessPathName(name);
      if (this.aps.has(name)) throw new AlreadyExistsError(`access path "${name}" already exists`);
      if (ports.length === 0)
        throw new InvalidArgumentError(`access path "${name}": give at least one port (tcp:ADDRESS:PORT)`);
      const nqn =
        o.nqn === undefined || o.nqn === ''
          ? defaultNqn(name, this.opts.applianceId)
          : validateNqn(o.nqn, 'subsystem NQN');
      for (const other of this.aps.values())
        if (other.nqn === nqn)
          throw new AlreadyExistsError(`subsystem NQN ${nqn} is already used by access path "${other.name}"`);
      const ap: AccessPath = { name, nqn, ports, hosts: [], volumes: [], created: Math.floor(Date.now() / 1000) };
      await this.commit([...this.aps.values(), ap]);
      this.emit('changed', ap);
      return structuredClone(ap);
    });
  }

  remove(name: string): Promise<void> {
    return this.serialised(async () => {
      const ap = this.get(name);
      await this.commit([...this.aps.values()].filter((a) => a.name !== name));
      await this.unexportUnused(ap.volumes.map((v) => v.volume));
      this.emit('removed', name);
    });
  }

  addVolume(name: string, volume: string, nsid = 0): Promise<number> {
    return this.serialised(async () => {
      const ap = this.get(name);
      const v = await this.opts.volumes.getVolume(volume);
      if (ap.volumes.some((m) => m.volume === v.name))
        throw new AlreadyExistsError(`volume "${v.name}" is already in access path "${name}"`);
      if (!Number.isInteger(nsid) || nsid < 0 || nsid > MAX_NSID)
        throw new InvalidArgumentError(`namespace id ${nsid}: must be 1-${MAX_NSID} (0 = the next free one)`);
      const id = nsid === 0 ? nextNsid(ap) : nsid;
      const holder = ap.volumes.find((m) => m.nsid === id);
      if (holder)
        throw new AlreadyExistsError(`access path "${name}": namespace id ${id} is already volume "${holder.volume}"`);
      ap.volumes = [...ap.volumes, { nsid: id, volume: v.name, key: `${v.pool}/${v.id}` }].sort(
        (a, b) => a.nsid - b.nsid,
      );
      await this.commitOne(ap);
      return id;
    });
  }

  removeVolume(name: string, volume: string): Promise<void> {
    return this.serialised(async () => {
      const ap = this.get(name);
      if (!ap.volumes.some((m) => m.volume === volume))
        throw new NotFoundError(`volume "${volume}" is not in access path "${name}"`);
      ap.volumes = ap.volumes.filter((m) => m.volume !== volume);
      await this.commitOne(ap);
      await this.unexportUnused([volume]);
    });
  }

  mapHost(name: string, nqn: string, keyFile?: string): Promise<void> {
    return this.serialised(async () => {
      const ap = this.get(name);
      validateNqn(nqn, 'host NQN');
      if (keyFile !== undefined && keyFile !== '') await readKeyFile(keyFile); // named refusal now, not at reconcile
      const rest = ap.hosts.filter((h) => h.nqn !== nqn);
      ap.hosts = [...rest, { nqn, ...(keyFile ? { keyFile } : {}) }].sort((a, b) => a.nqn.localeCompare(b.nqn));
      await this.commitOne(ap);
    });
  }

  unmapHost(name: string, nqn: string): Promise<void> {
    return this.serialised(async () => {
      const ap = this.get(name);
      if (!ap.hosts.some((h) => h.nqn === nqn))
        throw new NotFoundError(`host ${nqn} is not mapped to access path "${name}"`);
      ap.hosts = ap.hosts.filter((h) => h.nqn !== nqn);
      await this.commitOne(ap);
    });
  }

  /** a volume was renamed or deleted (forced): follow it */
  volumeChanged(volume: string, change: { renamedFrom?: string; removed?: boolean }): Promise<void> {
    return this.serialised(async () => {
      const touched: AccessPath[] = [];
      for (const a of this.aps.values()) {
        const ap = structuredClone(a);
        if (change.renamedFrom && ap.volumes.some((v) => v.volume === change.renamedFrom)) {
          ap.volumes = ap.volumes.map((v) => (v.volume === change.renamedFrom ? { ...v, volume } : v));
          touched.push(ap);
        } else if (change.removed && ap.volumes.some((v) => v.volume === volume)) {
          ap.volumes = ap.volumes.filter((v) => v.volume !== volume);
          touched.push(ap);
        }
      }
      if (touched.length === 0) return;
      if (change.renamedFrom) {
        const dev = this.devices.get(change.renamedFrom);
        this.devices.delete(change.renamedFrom);
        if (dev) this.devices.set(volume, dev);
      }
      const next = new Map(this.aps);
      for (const t of touched) next.set(t.name, t);
      await this.commit([...next.values()]);
      for (const t of touched) this.emit('changed', t);
    });
  }

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async commitOne(ap: AccessPath): Promise<void> {
    await this.commit([...this.aps.values()].map((a) => (a.name === ap.name ? ap : a)));
    this.emit('changed', structuredClone(ap));
  }

  /** nvmet first (refusals change nothing), then the durable model */
  private async commit(next: AccessPath[]): Promise<void> {
    await this.apply(next, { tolerant: false });
    await writeFileDurable(
      this.opts.stateFile,
      `${JSON.stringify({ version: 1, accessPaths: next }, null, 2)}\n`,
      0o600,
    );
    this.aps = new Map(next.map((a) => [a.name, a]));
  }

  /** `tolerant` (start-up): a host whose key file went bad is left out (no access rather than access without
   *  its key), a volume that cannot be exported is left out; both are logged. */
  private async apply(aps: AccessPath[], o: { tolerant: boolean }): Promise<void> {
    const target = this.opts.target;
    if (!target)
      throw new NotSupportedError(
        `access paths need the kernel NVMe target: ${this.opts.targetProblem ?? 'not available'}`,
      );
    const specs: SubsystemSpec[] = [];
    for (const ap of aps) {
      const hosts: SubsystemSpec['hosts'] = [];
      for (const h of ap.hosts) {
        try {
          hosts.push(h.keyFile ? { nqn: h.nqn, dhchapKey: await readKeyFile(h.keyFile) } : { nqn: h.nqn });
        } catch (e) {
          if (!o.tolerant) throw e;
          log().error(`access path "${ap.name}": host ${h.nqn} left out: ${(e as Error).message}`);
        }
      }
      const namespaces: SubsystemSpec['namespaces'] = [];
      for (const v of ap.volumes) {
        try {
          const devicePath = await this.device(v.volume);
          namespaces.push({
            nsid: v.nsid,
            devicePath,
            bufferedIo: !(await stat(devicePath)).isBlockDevice(),
            ...namespaceIdentity(v.key),
          });
        } catch (e) {
          if (!o.tolerant) throw e;
          log().error(
            `access path "${ap.name}": volume "${v.volume}" (nsid ${v.nsid}) left out: ${(e as Error).message}`,
          );
        }
      }
      specs.push({
        nqn: ap.nqn,
        serial: subsystemSerial(ap.nqn),
        model: SUBSYSTEM_MODEL,
        ports: ap.ports,
        hosts,
        namespaces,
      });
    }
    try {
      await target.reconcile(specs);
    } catch (e) {
      if (!o.tolerant) throw e;
      log().error(`access paths: nvmet not configured: ${(e as Error).message}`);
    }
  }

  private async device(volume: string): Promise<string> {
    const known = this.devices.get(volume);
    if (known) return known;
    const exp = this.opts.volumes.exportVolume;
    if (!exp)
      throw new NotSupportedError(
        `volume "${volume}": exporting a volume needs the storage daemon (qemu-storage-daemon), which this stacd does not have`,
      );
    const { devicePath } = await exp.call(this.opts.volumes, volume);
    this.devices.set(volume, devicePath);
    return devicePath;
  }

  private async unexportUnused(volumes: string[]): Promise<void> {
    for (const v of volumes) {
      if (this.mappedIn(v).length > 0 || !this.devices.has(v)) continue;
      this.devices.delete(v);
      try {
        await this.opts.volumes.unexportVolume?.(v);
      } catch (e) {
        log().warn(`volume "${v}": unexport failed: ${(e as Error).message}`);
      }
    }
  }
}
