// The D-Bus face of access paths: the manager (AccessPathManager1) at /org/nvmexpress/stac/storage/access_path
// and one AccessPath1 object per access path below it, reported by the storage ObjectManager. A thin adapter
// over AccessPathService, exported from the XML in dbus-interfaces/.
import dbus from 'dbus-next';
import type { MessageBus } from '../dbus/bus.js';
import { ExportedObject, type DBusValue } from '../dbus/exported-object.js';
import { interfaceFile } from '../dbus/interfaces-dir.js';
import { escapePathElement, STORAGE_PATH, type StorageDBus } from '../volumes/dbus/storage-objects.js';
import { InvalidArgumentError } from '../volumes/errors.js';
import type { AccessPathService } from './service.js';
import { parsePort, type AccessPath } from './model.js';

export const ACCESS_PATH_MANAGER_IFACE = 'org.nvmexpress.stac.AccessPathManager1';
export const ACCESS_PATH_IFACE = 'org.nvmexpress.stac.AccessPath1';
export const ACCESS_PATHS_PATH = `${STORAGE_PATH}/access_path`;

export const ACCESS_PATH_MUTATING_MEMBERS: Record<string, string[]> = {
  [ACCESS_PATH_MANAGER_IFACE]: ['CreateAccessPath'],
  [ACCESS_PATH_IFACE]: ['AddVolume', 'RemoveVolume', 'MapHost', 'UnmapHost', 'Delete'],
};

export function accessPathPath(name: string): string {
  return `${ACCESS_PATHS_PATH}/${escapePathElement(name)}`;
}

type PropTable = Record<string, [signature: string, get: (a: AccessPath) => DBusValue]>;
const PROPS: PropTable = {
  Name: ['s', (a) => a.name],
  Nqn: ['s', (a) => a.nqn],
  Ports: ['a(ssss)', (a) => a.ports.map((p) => [p.trtype, p.adrfam, p.traddr, p.trsvcid])],
  Hosts: ['a(ss)', (a) => a.hosts.map((h) => [h.nqn, h.keyFile ?? ''])],
  Volumes: ['a(us)', (a) => a.volumes.map((v) => [v.nsid, v.volume])],
  Created: ['x', (a) => BigInt(a.created)],
};

function variants(a: AccessPath): Record<string, dbus.Variant> {
  const out: Record<string, dbus.Variant> = {};
  for (const [k, [sig, get]] of Object.entries(PROPS)) out[k] = new dbus.Variant(sig, get(a));
  return out;
}

function optString(opts: Record<string, unknown>, key: string, allowed: string[]): string | undefined {
  for (const k of Object.keys(opts))
    if (!allowed.includes(k)) throw new InvalidArgumentError(`unknown option "${k}" (known: ${allowed.join(', ')})`);
  const raw = opts[key];
  const v = raw instanceof dbus.Variant ? (raw.value as unknown) : raw;
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new InvalidArgumentError(`option ${key}: expected a string`);
  return v;
}

export interface AccessPathTargetInfo {
  available: boolean;
  problem: string;
  hostAuth: boolean;
}

export class AccessPathDBus {
  private manager?: ExportedObject;
  private readonly objects = new Map<string, { object: ExportedObject; ap: AccessPath }>();
  private readonly onChanged = (ap: AccessPath): void => this.update(ap);
  private readonly onRemoved = (name: string): void => this.drop(name);

  constructor(
    private readonly bus: MessageBus,
    private readonly service: AccessPathService,
    private readonly storage: StorageDBus,
    private readonly target: AccessPathTargetInfo,
  ) {}

  start(): void {
    this.manager = ExportedObject.create(this.bus, ACCESS_PATHS_PATH, interfaceFile(ACCESS_PATH_MANAGER_IFACE), {
      [ACCESS_PATH_MANAGER_IFACE]: {
        methods: {
          CreateAccessPath: async (
            name: string,
            ports: string[],
            options: Record<string, unknown>,
          ): Promise<string> => {
            const nqn = optString(options, 'nqn', ['nqn']);
            const ap = await this.service.create(name, ports.map(parsePort), nqn !== undefined ? { nqn } : {});
            return accessPathPath(ap.name);
          },
          ListAccessPaths: (): string[] => this.service.list().map((a) => accessPathPath(a.name)),
          FindAccessPath: (name: string): string => accessPathPath(this.service.get(name).name),
        },
        properties: {
          TargetAvailable: { get: () => this.target.available },
          TargetProblem: { get: () => this.target.problem },
          HostAuthSupported: { get: () => this.target.hostAuth },
        },
      },
    });
    this.storage.addManagedSource(() => {
      const out: Record<string, Record<string, Record<string, dbus.Variant>>> = {};
      for (const [path, e] of this.objects) out[path] = { [ACCESS_PATH_IFACE]: variants(e.ap) };
      return out;
    });
    this.service.on('changed', this.onChanged);
    this.service.on('removed', this.onRemoved);
    for (const ap of this.service.list()) this.update(ap);
  }

  stop(): void {
    this.service.off('changed', this.onChanged);
    this.service.off('removed', this.onRemoved);
    for (const e of this.objects.values()) e.object.unexport();
    this.objects.clear();
    this.manager?.unexport();
  }

  private update(ap: AccessPath): void {
    const path = accessPathPath(ap.name);
    const cur = this.objects.get(path);
    if (cur) {
      const diff: Record<string, DBusValue> = {};
      for (const [k, [, get]] of Object.entries(PROPS))
        if (JSON.stringify(get(cur.ap), big) !== JSON.stringify(get(ap), big)) diff[k] = get(ap);
      cur.ap = ap;
      if (Object.keys(diff).length > 0) cur.object.emitPropertiesChanged(ACCESS_PATH_IFACE, diff);
      return;
    }
    const name = ap.name;
    const props: Record<string, { get(): DBusValue }> = {};
    for (const [k, [, get]] of Object.entries(PROPS)) props[k] = { get: () => get(this.objects.get(path)?.ap ?? ap) };
    const object = ExportedObject.create(this.bus, path, interfaceFile(ACCESS_PATH_IFACE), {
      [ACCESS_PATH_IFACE]: {
        methods: {
          AddVolume: (volume: string, nsid: number) => this.service.addVolume(name, volume, nsid),
          RemoveVolume: (volume: string) => this.service.removeVolume(name, volume),
          MapHost: async (nqn: string, options: Record<string, unknown>) => {
            const keyFile = optString(options, 'dhchap_key_file', ['dhchap_key_file']);
            await this.service.mapHost(name, nqn, keyFile);
          },
          UnmapHost: (nqn: string) => this.service.unmapHost(name, nqn),
          Delete: () => this.service.remove(name),
        },
        properties: props,
      },
    });
    this.objects.set(path, { object, ap });
    this.storage.added(path, ACCESS_PATH_IFACE, variants(ap));
  }

  private drop(name: string): void {
    const path = accessPathPath(name);
    const e = this.objects.get(path);
    if (!e) return;
    e.object.unexport();
    this.objects.delete(path);
    this.storage.removed(path, ACCESS_PATH_IFACE);
  }
}

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
