// Ceph RBD through the `rbd` CLI (recipe §5): the scale-out backend. One image per volume, named as the
// volume; QoS as librbd image config (rbd_qos_*), the priority as image-meta; snapshots native with
// `snap limit 256`; clones in clone format 1 so that "clone needs protect, protected cannot be deleted,
// unprotect refused with children" hold (format 2 relaxes all three); deletes go through the trash
// (an `rbd rm` of a huge thin image costs minutes of client CPU).
import type { Backend, OpContext, SnapshotInfo, Usage, VolumeInfo, VolumeMeta, QosLimits } from './backend.js';
import { DEFAULT_META } from './backend.js';
import { runTool, parseRbdProgress, ToolFailure, type ToolOptions } from './tool.js';
import {
  AlreadyExistsError,
  BusyError,
  InvalidArgumentError,
  LimitExceededError,
  NotFoundError,
  BackendError,
} from './errors.js';
import type { JournalEntry } from '../jobs/journal.js';
import { log } from '../common/log.js';

export interface RbdOptions {
  pool: string;
  /** the Ceph pool (defaults to the stas pool name) */
  cephPool?: string;
  /** cephx client id, without "client." */
  id?: string;
  /** ceph.conf path */
  conf?: string;
  timeoutMs?: number;
  longTimeoutMs?: number;
  rbd?: string;
}

interface RbdInfoJson {
  name: string;
  id: string;
  size: number;
  snapshot_count?: number;
  features?: string[];
  create_timestamp?: string;
  parent?: { pool: string; image: string; snapshot: string };
}
interface RbdSnapJson {
  id: number;
  name: string;
  size: number;
  protected: string;
  timestamp: string;
}
interface RbdDuJson {
  images: { name: string; snapshot?: string; provisioned_size: number; used_size: number }[];
}

const QOS_KEYS: Record<keyof QosLimits, string> = {
  iops: 'rbd_qos_iops_limit',
  iopsBurst: 'rbd_qos_iops_burst',
  bps: 'rbd_qos_bps_limit',
  bpsBurst: 'rbd_qos_bps_burst',
};
const PRIORITY_KEY = 'conn.performance_priority';
const SNAP_LIMIT = 256;

function parseTime(s: string | undefined): number {
  const t = s ? Date.parse(s) : NaN;
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}

export class RbdBackend implements Backend {
  readonly kind = 'rbd' as const;
  readonly pool: string;
  readonly location: string;
  private readonly cephPool: string;
  private readonly common: string[];
  private readonly timeoutMs: number;
  private readonly longTimeoutMs: number;
  private readonly rbdCmd: string;

  constructor(opts: RbdOptions) {
    this.pool = opts.pool;
    this.cephPool = opts.cephPool ?? opts.pool;
    this.location = `ceph pool ${this.cephPool}`;
    this.common = [...(opts.conf ? ['-c', opts.conf] : []), ...(opts.id ? ['--id', opts.id] : [])];
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.longTimeoutMs = opts.longTimeoutMs ?? 12 * 3600_000;
    this.rbdCmd = opts.rbd ?? 'rbd';
  }

  private spec(name: string, snap?: string): string {
    return `${this.cephPool}/${name}${snap !== undefined ? `@${snap}` : ''}`;
  }

  private async rbd(args: string[], opts: Partial<ToolOptions> & { what?: string } = {}): Promise<string> {
    try {
      return (await runTool(this.rbdCmd, [...this.common, ...args], { timeoutMs: this.timeoutMs, ...opts })).stdout;
    } catch (e) {
      throw mapRbdError(e, opts.what ?? args.slice(0, 2).join(' '));
    }
  }

  private async json<T>(args: string[], what?: string): Promise<T> {
    return JSON.parse(await this.rbd([...args, '--format', 'json'], { what })) as T;
  }

  private progress(ctx: OpContext): ToolOptions['progress'] {
    return ctx.onProgress ? { stream: 'stderr', parse: parseRbdProgress, onProgress: ctx.onProgress } : undefined;
  }

  async open(): Promise<void> {
    await this.rbd(['ls', this.cephPool], { what: `pool ${this.cephPool}` });
  }

  private async info(name: string): Promise<RbdInfoJson> {
    return this.json<RbdInfoJson>(['info', this.spec(name)], `volume "${name}"`);
  }

  private async readMeta(name: string): Promise<VolumeMeta> {
    const m = await this.json<Record<string, string>>(
      ['image-meta', 'list', this.spec(name)],
      `volume "${name}"`,
    ).catch(() => ({}) as Record<string, string>);
    const meta = structuredClone(DEFAULT_META);
    for (const [k, key] of Object.entries(QOS_KEYS) as [keyof QosLimits, string][]) {
      const v = Number(m[`conf_${key}`] ?? 0);
      meta.qos[k] = Number.isFinite(v) ? v : 0;
    }
    if (m[PRIORITY_KEY] === 'high') meta.priority = 'high';
    return meta;
  }

  private async toInfo(name: string): Promise<VolumeInfo> {
    const i = await this.info(name);
    const du = await this.json<RbdDuJson>(['du', this.spec(name)], `volume "${name}"`);
    const head = du.images.find((e) => e.snapshot === undefined);
    return {
      id: i.id,
      name: i.name,
      pool: this.pool,
      backend: 'rbd',
      size: i.size,
      allocated: head?.used_size ?? 0,
      parent: i.parent ? { volume: i.parent.image, snapshot: i.parent.snapshot } : null,
      snapshotCount: i.snapshot_count ?? (await this.listSnapshots(name)).length,
      meta: await this.readMeta(name),
      createdAt: parseTime(i.create_timestamp),
    };
  }

  async listVolumes(): Promise<VolumeInfo[]> {
    const names = await this.json<string[]>(['ls', this.cephPool]);
    const out: VolumeInfo[] = [];
    for (const n of names.sort()) {
      try {
        out.push(await this.toInfo(n));
      } catch (e) {
        log().warn({ volume: n, err: (e as Error).message }, 'rbd image unreadable; left out of the list');
      }
    }
    return out;
  }

  async getVolume(name: string): Promise<VolumeInfo> {
    return this.toInfo(name);
  }

  async hasVolume(name: string): Promise<boolean> {
    try {
      await this.info(name);
      return true;
    } catch (e) {
      if (e instanceof NotFoundError) return false;
      throw e;
    }
  }

  async createVolume(name: string, size: number, meta: VolumeMeta, ctx: OpContext = {}): Promise<void> {
    await ctx.step?.('create-image');
    await this.rbd(['create', '--size', `${size}B`, '--image-format', '2', this.spec(name)], {
      what: `volume "${name}"`,
    });
    await ctx.step?.('configure');
    await this.rbd(['snap', 'limit', 'set', '--limit', String(SNAP_LIMIT), this.spec(name)]);
    await this.setMeta(name, meta);
  }

  async setMeta(name: string, meta: VolumeMeta): Promise<void> {
    for (const [k, key] of Object.entries(QOS_KEYS) as [keyof QosLimits, string][])
      await this.rbd(['config', 'image', 'set', this.spec(name), key, String(meta.qos[k])], {
        what: `volume "${name}"`,
      });
    await this.rbd(['image-meta', 'set', this.spec(name), PRIORITY_KEY, meta.priority], { what: `volume "${name}"` });
  }

  /** unprotect + purge snapshots, move to the trash (instant), then remove from the trash (O(size)) */
  async deleteVolume(name: string, ctx: OpContext = {}): Promise<void> {
    const info = await this.info(name);
    await ctx.step?.('purge-snapshots', { imageId: info.id });
    await this.purgeSnapshots(name);
    await ctx.step?.('trash');
    await this.rbd(['trash', 'mv', this.spec(name)], { what: `volume "${name}"` });
    await ctx.step?.('trash-remove');
    await this.trashRemove(info.id, ctx);
  }

  private async purgeSnapshots(name: string): Promise<void> {
    for (const s of await this.listSnapshots(name))
      if (s.protected)
        await this.rbd(['snap', 'unprotect', this.spec(name, s.name)], { what: `snapshot "${name}@${s.name}"` });
    await this.rbd(['snap', 'purge', '--no-progress', this.spec(name)], { what: `volume "${name}"` });
    // `snap purge` exits 0 even when it skipped snapshots (recipe §5.4 #3): check
    const left = await this.listSnapshots(name);
    if (left.length > 0)
      throw new BusyError(`volume "${name}": snapshots ${left.map((s) => s.name).join(', ')} could not be removed`);
  }

  private async trashRemove(imageId: string, ctx: OpContext = {}): Promise<void> {
    await this.rbd(['trash', 'rm', `${this.cephPool}/${imageId}`], {
      timeoutMs: this.longTimeoutMs,
      progress: this.progress(ctx),
      what: `trashed image ${imageId}`,
    });
  }

  async resizeVolume(name: string, size: number, allowShrink: boolean, ctx: OpContext = {}): Promise<void> {
    await ctx.step?.('resize');
    await this.rbd(['resize', '--size', `${size}B`, ...(allowShrink ? ['--allow-shrink'] : []), this.spec(name)], {
      timeoutMs: this.longTimeoutMs,
      signal: ctx.signal,
      progress: this.progress(ctx),
      what: `volume "${name}"`,
    });
  }

  async renameVolume(from: string, to: string): Promise<void> {
    await this.rbd(['rename', this.spec(from), this.spec(to)], { what: `volume "${from}" -> "${to}"` });
  }

  async isAttached(name: string): Promise<boolean> {
    const st = await this.json<{ watchers?: unknown[] }>(['status', this.spec(name)], `volume "${name}"`);
    return (st.watchers?.length ?? 0) > 0;
  }

  async listSnapshots(name: string): Promise<SnapshotInfo[]> {
    const list = await this.json<RbdSnapJson[]>(['snap', 'ls', this.spec(name)], `volume "${name}"`);
    return list.map((s) => ({
      name: s.name,
      volume: name,
      size: s.size,
      protected: s.protected === 'true',
      createdAt: parseTime(s.timestamp),
    }));
  }

  async createSnapshot(name: string, snap: string): Promise<void> {
    await this.rbd(['snap', 'create', '--no-progress', this.spec(name, snap)], { what: `snapshot "${name}@${snap}"` });
  }

  async deleteSnapshot(name: string, snap: string): Promise<void> {
    await this.rbd(['snap', 'rm', '--no-progress', this.spec(name, snap)], { what: `snapshot "${name}@${snap}"` });
  }

  async protectSnapshot(name: string, snap: string): Promise<void> {
    await this.rbd(['snap', 'protect', this.spec(name, snap)], { what: `snapshot "${name}@${snap}"` });
  }

  async unprotectSnapshot(name: string, snap: string): Promise<void> {
    await this.rbd(['snap', 'unprotect', this.spec(name, snap)], { what: `snapshot "${name}@${snap}"` });
  }

  async snapshotChildren(name: string, snap: string): Promise<string[]> {
    const kids = await this.json<{ pool: string; pool_namespace?: string; image: string }[]>(
      ['children', this.spec(name, snap)],
      `snapshot "${name}@${snap}"`,
    );
    return kids
      .map((k) => {
        const where = k.pool_namespace ? `${k.pool}/${k.pool_namespace}` : k.pool;
        return where === this.cephPool ? k.image : `${where}/${k.image}`;
      })
      .sort();
  }

  async cloneDepth(name: string, snap?: string): Promise<number> {
    let depth = 0;
    let cur: RbdInfoJson = await this.info(name);
    // rbd has no limit of its own: walk the parents (bounded, in case of a cycle-like corruption)
    while (cur.parent && depth < 64) {
      depth++;
      cur = await this.info(cur.parent.image);
    }
    return snap !== undefined ? depth + 1 : depth;
  }

  async cloneVolume(
    name: string,
    snap: string,
    target: string,
    flatten: boolean,
    meta: VolumeMeta,
    ctx: OpContext = {},
  ): Promise<void> {
    await ctx.step?.('clone-image');
    await this.rbd(['clone', '--rbd-default-clone-format', '1', this.spec(name, snap), this.spec(target)], {
      what: `clone of "${name}@${snap}" as "${target}"`,
    });
    try {
      await this.rbd(['snap', 'limit', 'set', '--limit', String(SNAP_LIMIT), this.spec(target)]);
      await this.setMeta(target, meta);
      if (flatten) await this.flattenImage(target, ctx);
    } catch (e) {
      // a clone that did not complete (failed, cancelled) must not stay behind
      await this.removeImage(target).catch((err: unknown) =>
        log().error({ target, err: (err as Error).message }, 'cannot remove failed clone'),
      );
      throw e;
    }
  }

  /** Flattens with the object map switched off. Found here: re-running `rbd flatten` after one was killed
   *  (crash, cancel) trusts the object map, skips the objects that were in flight and leaves them reading
   *  zeros. Without an object map every object is copied up; the map is rebuilt afterwards.
   *  `hadObjectMap` says to restore the map even when it is already off (recovery of an interrupted run). */
  private async flattenImage(name: string, ctx: OpContext = {}, hadObjectMap = false): Promise<void> {
    const features = (await this.info(name)).features ?? [];
    const objectMap = features.includes('object-map');
    await ctx.step?.('flatten', { objectMap: objectMap || hadObjectMap });
    if (objectMap)
      await this.rbd(
        ['feature', 'disable', this.spec(name), ...(features.includes('fast-diff') ? ['fast-diff'] : []), 'object-map'],
        {
          what: `volume "${name}"`,
        },
      );
    try {
      await this.rbd(['flatten', this.spec(name)], {
        timeoutMs: this.longTimeoutMs,
        signal: ctx.signal,
        progress: this.progress(ctx),
        what: `volume "${name}"`,
      });
    } finally {
      if (objectMap || hadObjectMap) {
        await this.rbd(['feature', 'enable', this.spec(name), 'object-map', 'fast-diff'], { what: `volume "${name}"` });
        await this.rbd(['object-map', 'rebuild', '--no-progress', this.spec(name)], {
          timeoutMs: this.longTimeoutMs,
          what: `volume "${name}"`,
        });
      }
    }
  }

  async flattenVolume(name: string, ctx: OpContext = {}): Promise<void> {
    if (!(await this.info(name)).parent) return;
    await this.flattenImage(name, ctx);
  }

  async rollbackVolume(name: string, snap: string, ctx: OpContext = {}): Promise<void> {
    await ctx.step?.('apply');
    await this.rbd(['snap', 'rollback', this.spec(name, snap)], {
      timeoutMs: this.longTimeoutMs,
      progress: this.progress(ctx),
      what: `rollback of "${name}" to "${snap}"`,
    });
  }

  async usage(name: string): Promise<Usage> {
    const du = await this.json<RbdDuJson>(['du', this.spec(name)], `volume "${name}"`);
    const head = du.images.find((e) => e.snapshot === undefined);
    return {
      provisioned: head?.provisioned_size ?? 0,
      allocated: head?.used_size ?? 0,
      entries: [
        { snapshot: null, provisioned: head?.provisioned_size ?? 0, allocated: head?.used_size ?? 0 },
        ...du.images
          .filter((e) => e.snapshot !== undefined)
          .map((e) => ({ snapshot: e.snapshot ?? '', provisioned: e.provisioned_size, allocated: e.used_size })),
      ],
    };
  }

  /** removes an image with everything in it (used to undo a create/clone) */
  private async removeImage(name: string): Promise<void> {
    if (!(await this.hasVolume(name))) return;
    const id = (await this.info(name)).id;
    await this.purgeSnapshots(name);
    await this.rbd(['trash', 'mv', this.spec(name)]);
    await this.trashRemove(id);
  }

  private async inTrash(imageId: string): Promise<boolean> {
    const t = await this.json<{ id: string }[]>(['trash', 'ls', this.cephPool]);
    return t.some((e) => e.id === imageId);
  }

  async recover(entry: JournalEntry): Promise<string> {
    const name = entry.volume;
    switch (entry.op) {
      case 'create':
      case 'clone': {
        if (entry.phase === 'intent') return 'nothing had started';
        if (await this.hasVolume(name)) {
          await this.removeImage(name);
          return `undone: ${entry.op} of "${name}" removed`;
        }
        return `${entry.op} of "${name}" never created an image`;
      }
      case 'delete': {
        if (await this.hasVolume(name)) {
          const id = (await this.info(name)).id;
          await this.purgeSnapshots(name);
          await this.rbd(['trash', 'mv', this.spec(name)]);
          await this.trashRemove(id);
          return `finished: delete of "${name}"`;
        }
        const id = typeof entry.data.imageId === 'string' ? entry.data.imageId : '';
        if (id && (await this.inTrash(id))) {
          await this.trashRemove(id);
          return `finished: delete of "${name}" (removed from the trash)`;
        }
        return `delete of "${name}" had completed`;
      }
      case 'flatten': {
        if (!(await this.hasVolume(name))) return `volume "${name}" no longer exists`;
        const hadObjectMap = entry.data.objectMap === true;
        const info = await this.info(name);
        if (info.parent) {
          await this.flattenImage(name, {}, hadObjectMap);
          return `finished: flatten of "${name}"`;
        }
        if (hadObjectMap && !(info.features ?? []).includes('object-map')) {
          await this.rbd(['feature', 'enable', this.spec(name), 'object-map', 'fast-diff']);
          await this.rbd(['object-map', 'rebuild', '--no-progress', this.spec(name)], {
            timeoutMs: this.longTimeoutMs,
          });
        }
        return `flatten of "${name}" had completed`;
      }
      case 'rollback': {
        const backup = String(entry.data.backup ?? '');
        const target = String(entry.args.snapshot ?? '');
        const snaps = (await this.listSnapshots(name)).map((s) => s.name);
        if (backup && snaps.includes(backup) && snaps.includes(target)) {
          await this.rbd(['snap', 'rollback', '--no-progress', this.spec(name, target)]);
          return `finished: rollback of "${name}" to "${target}" (backup "${backup}" kept)`;
        }
        return `undone: rollback of "${name}" never took its backup, volume unchanged`;
      }
      case 'resize': {
        if (entry.phase === 'intent' || !(await this.hasVolume(name))) return 'nothing had started';
        const size = Number(entry.args.size);
        await this.rbd([
          'resize',
          '--no-progress',
          '--size',
          `${size}B`,
          ...(entry.args.allowShrink ? ['--allow-shrink'] : []),
          this.spec(name),
        ]);
        return `finished: resize of "${name}"`;
      }
      default:
        // snapshot create/delete/protect/unprotect, rename, metadata: single atomic rbd calls
        return `${entry.op}: atomic in rbd, nothing to do`;
    }
  }

  /** images in the pool and in its trash (tests: "no orphan") */
  async imagesAndTrash(): Promise<{ images: string[]; trash: string[] }> {
    const images = await this.json<string[]>(['ls', this.cephPool]);
    const trash = (await this.json<{ id: string; name: string }[]>(['trash', 'ls', this.cephPool])).map((t) => t.name);
    return { images: images.sort(), trash };
  }
}

/** rbd prints "... (16) Device or resource busy": the errno decides the named error */
function mapRbdError(e: unknown, what: string): unknown {
  if (!(e instanceof ToolFailure)) return e;
  const text = e.stderr.trim().split('\n').filter(Boolean).slice(-2).join(' | ');
  const errno = /\((\d+)\)\s/.exec(e.stderr)?.[1];
  switch (errno) {
    case '2':
      return new NotFoundError(`${what}: not found (${text})`);
    case '17':
      return new AlreadyExistsError(`${what}: already exists (${text})`);
    case '16':
      return new BusyError(`${what}: busy (${text})`);
    case '39':
      return new BusyError(`${what}: not empty (${text})`);
    case '30':
      return new BusyError(`${what}: image is in use (read-only for us) (${text})`);
    case '22':
      return new InvalidArgumentError(`${what}: invalid argument (${text})`);
    case '122':
      return new LimitExceededError(`${what}: limit reached (${text})`);
  }
  if (/No such file or directory/.test(e.stderr)) return new NotFoundError(`${what}: not found (${text})`);
  return new BackendError(`${what}: ${e.message}`);
}
