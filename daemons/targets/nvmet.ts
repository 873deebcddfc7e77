// stacd's kernel NVMe target: keeps nvmet (configfs) serving exactly the subsystems stacd wants, and records in
// its state directory which nvmet objects it created, so that it can re-create them after a reboot (configfs
// is volatile) and remove only its own. Every change is planned first (plan.ts: refusals before any change),
// the ownership record is written durably before the first change, and changes are serialised.
import { readFile } from 'node:fs/promises';
import { writeFileDurable } from '../common/durable-file.js';
import { log } from '../common/log.js';
import { Configfs, describeOp, type NvmetState } from './configfs.js';
import { EMPTY_OWNED, planNvmet, type OwnedRecord } from './plan.js';
import type { SubsystemSpec } from './types.js';
import { BackendError, NotSupportedError } from '../volumes/errors.js';

export interface NvmetTargetOptions {
  /** JSON file of the nvmet objects stacd created */
  stateFile: string;
  configfs?: Configfs;
}

export class NvmetTarget {
  readonly configfs: Configfs;
  private owned: OwnedRecord = EMPTY_OWNED;
  private hostAuth: boolean | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: NvmetTargetOptions) {
    this.configfs = opts.configfs ?? new Configfs();
  }

  /** Reads the ownership record; throws NotSupported when nvmet is not there (module not loaded, no configfs). */
  async open(): Promise<void> {
    if (!(await this.configfs.available()))
      throw new NotSupportedError(
        `the kernel NVMe target is not available (${this.configfs.root} missing: load nvmet and nvmet-tcp, mount configfs)`,
      );
    try {
      this.owned = parseOwned(await readFile(this.opts.stateFile, 'utf8'), this.opts.stateFile);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.owned = EMPTY_OWNED;
    }
    this.hostAuth = await this.configfs.hostAuthSupported();
  }

  /** whether per-host DH-HMAC-CHAP keys can be set (CONFIG_NVME_TARGET_AUTH) */
  get hostAuthSupported(): boolean {
    return this.hostAuth === true;
  }

  ownedObjects(): OwnedRecord {
    return structuredClone(this.owned);
  }

  /** Makes nvmet serve exactly `desired` (among the objects stacd owns). Refusals throw before any change. */
  reconcile(desired: SubsystemSpec[]): Promise<number> {
    const run = this.queue.then(() => this.reconcileNow(desired));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** the refusals of reconcile without any change */
  async check(desired: SubsystemSpec[]): Promise<void> {
    await this.queue;
    planNvmet(await this.configfs.read(), this.owned, desired, { hostAuth: this.hostAuthSupported });
  }

  private async reconcileNow(desired: SubsystemSpec[]): Promise<number> {
    const current: NvmetState = await this.configfs.read();
    const plan = planNvmet(current, this.owned, desired, { hostAuth: this.hostAuthSupported });
    if (plan.ops.length === 0 && sameOwned(plan.ownedAfter, this.owned)) return 0;
    await this.persist(plan.ownedBefore);
    for (const o of plan.ops) {
      log().debug(`nvmet: ${describeOp(o)}`);
      try {
        await this.configfs.apply(o);
      } catch (e) {
        throw new BackendError((e as Error).message, { cause: e });
      }
    }
    await this.persist(plan.ownedAfter);
    if (plan.ops.length > 0) log().info(`nvmet: ${plan.ops.length} configfs change(s) applied`);
    return plan.ops.length;
  }

  private async persist(o: OwnedRecord): Promise<void> {
    await writeFileDurable(this.opts.stateFile, `${JSON.stringify({ version: 1, ...o }, null, 2)}\n`, 0o600);
    this.owned = structuredClone(o);
  }
}

function sameOwned(a: OwnedRecord, b: OwnedRecord): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function parseOwned(text: string, file: string): OwnedRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message}); stacd will not guess which nvmet objects it owns`);
  }
  const o = v as Partial<OwnedRecord> & { version?: number };
  if (o.version !== 1 || !Array.isArray(o.ports) || !Array.isArray(o.subsystems) || !Array.isArray(o.hosts))
    throw new Error(`${file}: not a version 1 nvmet ownership record`);
  return { ports: o.ports, subsystems: o.subsystems, hosts: o.hosts };
}
