// Reading and writing the nvmet tree in configfs (/sys/kernel/config/nvmet). The only module here that touches
// the file system; everything above works on NvmetState snapshots and operation lists.
import { readdir, readFile, writeFile, mkdir, rmdir, symlink, unlink, access } from 'node:fs/promises';
import { join } from 'node:path';

export const NVMET_ROOT = '/sys/kernel/config/nvmet';

export interface PortState {
  id: string;
  trtype: string;
  adrfam: string;
  traddr: string;
  trsvcid: string;
  /** NQNs of the subsystems linked to the port */
  subsystems: string[];
}

export interface NamespaceState {
  nsid: number;
  devicePath: string;
  nguid: string;
  uuid: string;
  bufferedIo: boolean;
  enabled: boolean;
}

export interface SubsystemState {
  nqn: string;
  allowAnyHost: boolean;
  hosts: string[];
  serial: string;
  model: string;
  namespaces: NamespaceState[];
}

export interface HostState {
  nqn: string;
  /** undefined: this kernel has no target authentication (no dhchap_key attribute) */
  dhchapKey: string | undefined;
}

export interface NvmetState {
  ports: PortState[];
  subsystems: SubsystemState[];
  hosts: HostState[];
}

/** one configfs change, with a path relative to the nvmet root */
export type NvmetOp =
  | { op: 'mkdir'; path: string }
  | { op: 'rmdir'; path: string }
  | { op: 'write'; path: string; value: string; secret?: boolean }
  | { op: 'link'; path: string; target: string }
  | { op: 'unlink'; path: string };

export function describeOp(o: NvmetOp): string {
  switch (o.op) {
    case 'write':
      return `write ${o.path} = ${o.secret ? '<redacted>' : JSON.stringify(o.value)}`;
    case 'link':
      return `link ${o.path} -> ${o.target}`;
    default:
      return `${o.op} ${o.path}`;
  }
}

async function list(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

async function attr(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).replace(/\n$/, '');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw e;
  }
}

export class Configfs {
  constructor(readonly root = NVMET_ROOT) {}

  async available(): Promise<boolean> {
    try {
      await access(join(this.root, 'subsystems'));
      return true;
    } catch {
      return false;
    }
  }

  async read(): Promise<NvmetState> {
    const r = this.root;
    const ports: PortState[] = [];
    for (const id of await list(join(r, 'ports'))) {
      const p = join(r, 'ports', id);
      ports.push({
        id,
        trtype: (await attr(join(p, 'addr_trtype'))) ?? '',
        adrfam: (await attr(join(p, 'addr_adrfam'))) ?? '',
        traddr: (await attr(join(p, 'addr_traddr'))) ?? '',
        trsvcid: (await attr(join(p, 'addr_trsvcid'))) ?? '',
        subsystems: await list(join(p, 'subsystems')),
      });
    }
    const subsystems: SubsystemState[] = [];
    for (const nqn of await list(join(r, 'subsystems'))) {
      const s = join(r, 'subsystems', nqn);
      const namespaces: NamespaceState[] = [];
      for (const id of await list(join(s, 'namespaces'))) {
        const n = join(s, 'namespaces', id);
        namespaces.push({
          nsid: Number(id),
          devicePath: (await attr(join(n, 'device_path'))) ?? '',
          nguid: (await attr(join(n, 'device_nguid'))) ?? '',
          uuid: (await attr(join(n, 'device_uuid'))) ?? '',
          bufferedIo: (await attr(join(n, 'buffered_io'))) === '1',
          enabled: (await attr(join(n, 'enable'))) === '1',
        });
      }
      subsystems.push({
        nqn,
        allowAnyHost: (await attr(join(s, 'attr_allow_any_host'))) === '1',
        hosts: await list(join(s, 'allowed_hosts')),
        serial: (await attr(join(s, 'attr_serial'))) ?? '',
        model: (await attr(join(s, 'attr_model'))) ?? '',
        namespaces,
      });
    }
    const hosts: HostState[] = [];
    for (const nqn of await list(join(r, 'hosts')))
      hosts.push({ nqn, dhchapKey: await attr(join(r, 'hosts', nqn, 'dhchap_key')) });
    return { ports, subsystems, hosts };
  }

  /** Whether hosts/<nqn>/dhchap_key exists (CONFIG_NVME_TARGET_AUTH). Probed with a throw-away host entry
   *  when no host exists yet: the attribute only shows inside one. */
  async hostAuthSupported(): Promise<boolean> {
    const existing = await list(join(this.root, 'hosts'));
    if (existing.length > 0) return (await attr(join(this.root, 'hosts', existing[0]!, 'dhchap_key'))) !== undefined;
    const probe = join(this.root, 'hosts', `nqn.2014-08.org.nvmexpress:stas-auth-probe-${process.pid}`);
    await mkdir(probe);
    try {
      return (await attr(join(probe, 'dhchap_key'))) !== undefined;
    } finally {
      await rmdir(probe);
    }
  }

  /** Applies one operation; errors name the configfs path. */
  async apply(o: NvmetOp): Promise<void> {
    const p = join(this.root, o.path);
    try {
      switch (o.op) {
        case 'mkdir':
          await mkdir(p);
          return;
        case 'rmdir':
          await rmdir(p);
          return;
        case 'write':
          await writeFile(p, o.value);
          return;
        case 'link':
          await symlink(join(this.root, o.target), p);
          return;
        case 'unlink':
          await unlink(p);
          return;
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new Error(`nvmet: ${describeOp(o)} failed: ${err.code ?? err.message}`, { cause: e });
    }
  }
}
