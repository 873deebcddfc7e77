// stacd.conf storage sections: [Volumes] (the default pool, named "default") and [Volumes <name>] (more
// pools). Keys: backend=qcow2|rbd|sim (sim: in memory, nothing persists; for tests and demos); qcow2: root=PATH (default /var/lib/stas/volumes); rbd: pool= (Ceph pool,
// default: the stas pool name, "rbd" for [Volumes]), id= (cephx client id), conf= (ceph.conf path);
// [Volumes] also takes max-jobs=N (parallel long operations, default 4). Errors name file, line and key.
import { dirname, isAbsolute, join } from 'node:path';
import type { IniDocument, IniSection } from '../config/ini.js';
import { formatRef } from '../config/errors.js';
import { Qcow2Backend } from './qcow2-backend.js';
import { RbdBackend } from './rbd-backend.js';
import { SimBackend } from './sim-backend.js';
import type { Backend } from './backend.js';
import { validateName } from './names.js';

export const DEFAULT_QCOW2_ROOT = '/var/lib/stas/volumes';

/** The qcow2 root when none is configured: beside stacd's state directory (systemd StateDirectory=stas/stacd gives
 *  /var/lib/stas/volumes; a test or demo pointing STATE_DIRECTORY elsewhere keeps its volumes there too). */
export function defaultQcow2Root(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.STATE_DIRECTORY?.split(':')[0];
  return state ? join(dirname(state), 'volumes') : DEFAULT_QCOW2_ROOT;
}
export const DEFAULT_MAX_JOBS = 4;

export type PoolConfig =
  | { name: string; backend: 'qcow2'; root: string }
  | { name: string; backend: 'rbd'; cephPool: string; id?: string; conf?: string }
  | { name: string; backend: 'sim' };

export interface VolumesConfig {
  pools: PoolConfig[];
  maxJobs: number;
}

/** A storage section is wrong: the message starts with file:line and names the section and key. */
export class VolumesConfigError extends Error {
  override readonly name = 'VolumesConfigError';
}

const KNOWN: Record<PoolConfig['backend'], string[]> = {
  qcow2: ['backend', 'root', 'max-jobs'],
  rbd: ['backend', 'pool', 'id', 'conf', 'max-jobs'],
  sim: ['backend', 'max-jobs'],
};

function value(sec: IniSection, key: string): { text: string; where: string } | undefined {
  const o = sec.options.get(key);
  const v = o?.values[o.values.length - 1];
  return v ? { text: v.text.trim(), where: `${formatRef(v.ref)}: [${sec.name}] ${key}` } : undefined;
}

function parsePool(sec: IniSection, poolName: string): PoolConfig {
  const b = value(sec, 'backend');
  const backend = (b?.text ?? 'qcow2').toLowerCase();
  if (backend !== 'qcow2' && backend !== 'rbd' && backend !== 'sim')
    throw new VolumesConfigError(`${b?.where ?? formatRef(sec.ref)}: "${b?.text}" is not a backend (qcow2, rbd, sim)`);
  for (const [key, opt] of sec.options)
    if (!KNOWN[backend].includes(key))
      throw new VolumesConfigError(
        `${formatRef(opt.ref)}: [${sec.name}] ${key}: unknown key for backend ${backend} (known: ${KNOWN[backend].join(', ')})`,
      );
  if (backend === 'sim') return { name: poolName, backend };
  if (backend === 'qcow2') {
    const r = value(sec, 'root');
    const root = r?.text || defaultQcow2Root();
    if (!isAbsolute(root)) throw new VolumesConfigError(`${r?.where}: "${root}" must be an absolute path`);
    return { name: poolName, backend, root };
  }
  const p = value(sec, 'pool');
  const id = value(sec, 'id');
  const conf = value(sec, 'conf');
  if (conf && !isAbsolute(conf.text))
    throw new VolumesConfigError(`${conf.where}: "${conf.text}" must be an absolute path`);
  if (id && !/^[A-Za-z0-9._-]+$/.test(id.text))
    throw new VolumesConfigError(`${id.where}: "${id.text}" is not a cephx client id`);
  const cephPool = p?.text || (poolName === 'default' ? 'rbd' : poolName);
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)?$/.test(cephPool))
    throw new VolumesConfigError(
      `${p?.where ?? formatRef(sec.ref)}: "${cephPool}" is not a Ceph pool[/namespace] name`,
    );
  return {
    name: poolName,
    backend,
    cephPool,
    ...(id?.text ? { id: id.text } : {}),
    ...(conf?.text ? { conf: conf.text } : {}),
  };
}

/** Reads the storage sections of a parsed stacd.conf. No section at all = one qcow2 pool at the default root. */
export function parseVolumesConfig(doc: IniDocument): VolumesConfig {
  const pools: PoolConfig[] = [];
  let maxJobs = DEFAULT_MAX_JOBS;
  for (const sec of doc.sections.values()) {
    const m = /^Volumes(?: (.+))?$/.exec(sec.name);
    if (!m) continue;
    const name = m[1]?.trim() ?? 'default';
    try {
      validateName(name, 'pool name');
    } catch (e) {
      throw new VolumesConfigError(`${formatRef(sec.ref)}: [${sec.name}]: ${(e as Error).message}`);
    }
    if (pools.some((p) => p.name === name))
      throw new VolumesConfigError(`${formatRef(sec.ref)}: [${sec.name}]: pool "${name}" defined twice`);
    pools.push(parsePool(sec, name));
    const mj = value(sec, 'max-jobs');
    if (mj) {
      if (!/^\d+$/.test(mj.text) || Number(mj.text) < 1 || Number(mj.text) > 64)
        throw new VolumesConfigError(`${mj.where}: "${mj.text}" is not a number of jobs in 1..64`);
      maxJobs = Number(mj.text);
    }
  }
  if (pools.length === 0) pools.push({ name: 'default', backend: 'qcow2', root: defaultQcow2Root() });
  // the default pool first: it is where volumes go when no pool is named
  pools.sort((a, b) => (a.name === 'default' ? -1 : b.name === 'default' ? 1 : 0));
  const roots = pools
    .filter((p): p is Extract<PoolConfig, { backend: 'qcow2' }> => p.backend === 'qcow2')
    .map((p) => p.root);
  const dup = roots.find((r, i) => roots.indexOf(r) !== i);
  if (dup) throw new VolumesConfigError(`${doc.files[0] ?? 'stacd.conf'}: two qcow2 pools share root ${dup}`);
  return { pools, maxJobs };
}

/** One Backend per configured pool. */
export function backendsFor(cfg: VolumesConfig): Backend[] {
  return cfg.pools.map((p) =>
    p.backend === 'qcow2'
      ? new Qcow2Backend({ pool: p.name, root: p.root })
      : p.backend === 'sim'
        ? new SimBackend(p.name)
        : new RbdBackend({ pool: p.name, cephPool: p.cephPool, id: p.id, conf: p.conf }),
  );
}
