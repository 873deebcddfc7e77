// stacd's connector engine: keeps the I/O controller connections in step with the desired state. Each pass
// (debounced) asks stafd, computes the desired state, plans against stacd's table and the kernel's controllers
// (planner.ts, pure), then carries the plan out here; the table is cached so a restart re-adopts everything.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Engine, EngineContext } from '../runtime/daemon-runtime.js';
import type { ServiceConfig } from '../config/service-config.js';
import type { SysConfig } from '../config/sys-config.js';
import { baseProcessInfo } from '../runtime/process-info.js';
import { hostInfo } from '../runtime/host-info.js';
import { Timer } from '../common/timer.js';
import { kernelSupport } from '../common/kernel-support.js';
import type { PyValue } from '../common/pyfmt.js';
import { TID, type TidContext } from '../common/tid.js';
import { stateDir } from '../common/state-dirs.js';
import { log } from '../common/log.js';
import { ExportedObject, type InterfaceImpl } from '../dbus/exported-object.js';
import { interfaceFile } from '../dbus/interfaces-dir.js';
import { hostInterfaces } from '../nvme/kernel/match.js';
import { chooseDriverKind, kernelFabricsUsable, DRIVER_ENV } from '../controllers/driver-kind.js';
import { computeDesiredState, type DesiredResult } from './desired-state.js';
import { planReconcile, planSummary, type DesiredIoc, type ReconcilePlan, type TrackedIoc } from './planner.js';
import { IoController, type IocServices } from './io-controller.js';
import { IocCache } from './cache.js';
import { StafdFollower } from './stafd-follower.js';
import { buildConnectRequest } from './connect-request.js';
import { ConnectSlots } from './connect-slots.js';
import { planToJson } from './plan-json.js';
import type { IocDriver } from './driver.js';
import { KernelIocDriver } from './kernel-driver.js';
import { UserspaceIocDriver } from './userspace-driver.js';

export const STAC_IFACE = 'org.nvmexpress.stac';
export const CONNECTOR_IFACE = 'org.nvmexpress.stac.Connector1';
export const CONNECTOR_PATH = '/org/nvmexpress/stac/connector';
export const CONFIG_SOAK_SEC = 1.5;
/** stafd re-appeared: give it time to reconnect its DCs and re-read their log pages (nvme-stas) */
export const STAFD_BACK_SOAK_SEC = 10;
/** a change after a quiet period is acted on this soon; a burst then gets the full soak */
export const FIRST_CHANGE_SOAK_SEC = 0.2;
/** audit mode: settle time after a kernel controller appeared */
export const AUDIT_SOAK_SEC = 1;

export interface ConnectorDeps {
  sys: SysConfig;
  /** overrides the driver selection (tests, bench) */
  driver?: IocDriver;
  /** overrides the state directory of the cache */
  stateDir?: string;
}

type Tuple7 = [string, string, string, string, string, string, string];

function createIocDriver(env: NodeJS.ProcessEnv = process.env): IocDriver {
  const { kind, why } = chooseDriverKind(env[DRIVER_ENV], kernelFabricsUsable());
  log().info(`fabrics driver for I/O controllers: ${kind} (${why})`);
  return kind === 'kernel' ? new KernelIocDriver() : new UserspaceIocDriver();
}

function safe<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

export class Connector implements Engine<ServiceConfig> {
  private config: ServiceConfig;
  private tidCtx: TidContext;
  private readonly table = new Map<string, IoController>();
  private readonly soak: Timer;
  private readonly auditTimer = new Timer(30, () => undefined);
  private readonly driver: IocDriver;
  private readonly cache: IocCache;
  private readonly follower: StafdFollower;
  private readonly support = kernelSupport();
  private readonly hostNqn: string;
  private readonly hostId: string;
  private readonly services: IocServices;
  private passing: Promise<void> = Promise.resolve();
  private lastPassEnd = 0;
  private stafdWasGone = false;
  private stopped = false;
  private connectorObject: ExportedObject | undefined;
  private cacheTimer: NodeJS.Timeout | undefined;
  private passes = 0;
  /** I/O controllers left out by the last pass for max-controllers (0 = none): logged when it starts and when it ends */
  private overCap = 0;

  constructor(
    private readonly ctx: EngineContext<ServiceConfig>,
    private readonly deps: ConnectorDeps,
  ) {
    this.config = ctx.config;
    this.hostNqn = safe(() => deps.sys.hostnqn, '');
    this.hostId = safe(() => deps.sys.hostid ?? '', '');
    this.tidCtx = { ignoreIface: this.config.ignoreIface, hostNqn: this.hostNqn };
    this.soak = new Timer(CONFIG_SOAK_SEC, () => void this.reconcile());
    this.driver = deps.driver ?? createIocDriver();
    this.cache = new IocCache(deps.stateDir ?? stateDir('stacd'));
    this.follower = new StafdFollower(ctx.bus);
    this.services = {
      driver: this.driver,
      connectRequest: (tid) => buildConnectRequest(tid, this.config.connectParams(tid.cfg), this.hostNqn, this.hostId),
      connectAttemptsOnNcc: () => this.config.connectAttemptsOnNcc,
      changed: () => this.scheduleCacheSave(),
      connectSlots: new ConnectSlots(() =>
        this.config.get('I/O controller connection management/max-connects-in-flight'),
      ),
    };
    this.restoreFromCache();
  }

  // ------------------------------------------------------------------------------------------------ D-Bus

  interfaces(): Record<string, InterfaceImpl> {
    return {
      [STAC_IFACE]: {
        methods: {
          list_controllers: (detailed: boolean): Record<string, string>[] =>
            [...this.table.values()].map((c) => (detailed ? c.detailsDict() : c.idDict())),
        },
      },
    };
  }

  processInfo(): Record<string, PyValue> {
    const known = this.follower.known();
    return {
      ...baseProcessInfo({
        host: hostInfo(this.deps.sys),
        lastKnownConfigFile: this.cache.path,
        configSoakTimer: this.soak,
        tp8013: this.support.discovery,
        hostIface: this.support.hostIface,
        auditTimer: this.auditTimer,
      }),
      // stas extras (not in nvme-stas)
      'stas.fabrics driver': this.driver.kind,
      'stas.disconnect-scope': this.config.disconnectScope,
      'stas.stafd': this.follower.owner ? 'on the bus' : 'absent',
      'stas.stafd log pages':
        known.discovery === 'answered'
          ? `answered (${known.learned.length} I/O controller entries)`
          : 'not answered yet',
      'stas.reconcile passes': this.passes,
    };
  }

  controllerInfo(t: Tuple7): Record<string, PyValue> | undefined {
    const [transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNqn] = t;
    const tid = TID.fromTuple({ transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNqn }, this.tidCtx);
    return this.table.get(tid.key())?.infoDict();
  }

  // ------------------------------------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    await this.driver.start();
    this.driver.on('changed', () => {
      if (this.config.disconnectScope === 'all-connections-matching-disconnect-trtypes')
        this.soak.start(AUDIT_SOAK_SEC);
    });
    this.follower.on('signal', (member) => this.trigger(member));
    this.follower.on('owner', (owner) => {
      if (!owner) {
        this.stafdWasGone = true;
        return;
      }
      // nvme-stas: reconfigure 10 s after stafd re-appears (it reconnects its DCs meanwhile), or 1.5 s after a signal
      this.soak.start(this.stafdWasGone ? STAFD_BACK_SOAK_SEC : FIRST_CHANGE_SOAK_SEC);
      this.soak.interval = CONFIG_SOAK_SEC;
      this.stafdWasGone = false;
    });
    try {
      await this.follower.start();
    } catch (e) {
      log().error(`cannot follow stafd on D-Bus: ${(e as Error).message}; using controller= lines only`);
    }
    try {
      this.connectorObject = ExportedObject.create(this.ctx.bus, CONNECTOR_PATH, interfaceFile(CONNECTOR_IFACE), {
        [CONNECTOR_IFACE]: {
          methods: {
            Plan: async (): Promise<string> => JSON.stringify(planToJson(await this.plan(true), this.driver.kind)),
          },
          properties: { Driver: { get: () => this.driver.kind } },
        },
      });
    } catch (e) {
      log().error(`cannot export ${CONNECTOR_IFACE}: ${(e as Error).message}`);
    }
    if (!this.soak.armed) this.soak.start(FIRST_CHANGE_SOAK_SEC);
  }

  async reload(config: ServiceConfig): Promise<void> {
    this.config = config;
    this.ctx.config = config;
    this.tidCtx = { ignoreIface: config.ignoreIface, hostNqn: this.hostNqn };
    // the full soak: `stacctl plan` shows what the new configuration will do before it is done
    this.soak.start(CONFIG_SOAK_SEC);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.soak.stop();
    await this.passing;
    if (this.cacheTimer) clearTimeout(this.cacheTimer);
    await this.saveCache();
    this.connectorObject?.unexport();
    await this.follower.stop();
    // never disconnects on stop (§5.7): kernel controllers stay for the next stacd to adopt
    await Promise.all([...this.table.values()].map((c) => c.dispose(false)));
    await this.driver.stop();
  }

  /** A change worth a pass: soon after a quiet period, else restart the 1.5 s soak (bursts become one pass). */
  private trigger(why: string): void {
    log().debug(`reconcile trigger: ${why}`);
    const quiet = !this.soak.armed && Date.now() - this.lastPassEnd > CONFIG_SOAK_SEC * 1000;
    this.soak.start(quiet ? FIRST_CHANGE_SOAK_SEC : CONFIG_SOAK_SEC);
    this.soak.interval = CONFIG_SOAK_SEC;
  }

  // ------------------------------------------------------------------------------------------ the table

  private restoreFromCache(): void {
    const { iocs, problems } = this.cache.load(this.tidCtx);
    for (const p of problems) log().warn(p);
    for (const c of iocs) {
      if (this.table.has(c.tid.key())) continue;
      const ioc = new IoController(c.tid, c.origin, c.madeByStas, c.dlpe, false, this.services, c.device, true);
      this.table.set(c.tid.key(), ioc);
    }
    if (iocs.length) log().info(`restored ${iocs.length} I/O controller(s) from ${this.cache.path}`);
  }

  private async resolveNames(): Promise<Map<string, string>> {
    const names = new Set<string>();
    for (const spec of this.config.controllers) {
      const tr = spec.cid.find(([k]) => k === 'transport')?.[1];
      const a = spec.cid.find(([k]) => k === 'traddr')?.[1];
      if ((tr === 'tcp' || tr === 'rdma') && typeof a === 'string' && a && isIP(a) === 0) names.add(a);
    }
    const out = new Map<string, string>();
    for (const name of names) {
      for (const family of [4, 6] as const) {
        if ((family === 4 && !this.config.ipv4Enabled) || (family === 6 && !this.config.ipv6Enabled)) continue;
        try {
          out.set(name, (await lookup(name, { family })).address);
          break;
        } catch {
          // next family
        }
      }
    }
    return out;
  }

  private async desired(): Promise<DesiredResult> {
    const known = this.follower.known();
    return computeDesiredState({
      controllers: this.config.controllers,
      excludes: this.config.excludes,
      ipv4: this.config.ipv4Enabled,
      ipv6: this.config.ipv6Enabled,
      resolved: await this.resolveNames(),
      learned: known.learned,
      discovery: known.discovery,
      tidContext: this.tidCtx,
    });
  }

  /** What a pass would do now (`refresh`: ask stafd first and remember its answer, as a pass does). */
  async plan(refresh: boolean): Promise<ReconcilePlan> {
    if (refresh) await this.follower.refresh(this.tidCtx);
    const { state } = await this.desired();
    const tracked = new Map<string, TrackedIoc>();
    for (const [k, c] of this.table) tracked.set(k, c.snapshot());
    let foreign: Awaited<ReturnType<IocDriver['foreign']>> = [];
    try {
      foreign = await this.driver.foreign();
    } catch (e) {
      log().warn(`cannot list kernel controllers: ${(e as Error).message}`);
    }
    return planReconcile({
      desired: state,
      tracked,
      foreign,
      scope: this.config.disconnectScope,
      disconnectTrtypes: this.config.disconnectTrtypes,
      connectAttemptsOnNcc: this.config.connectAttemptsOnNcc,
      interfaces: hostInterfaces(),
    });
  }

  /** One reconcile pass; passes never overlap. */
  reconcile(): Promise<void> {
    this.passing = this.passing
      .then(() => this.reconcileNow())
      .catch((e: unknown) => log().error(`reconcile failed: ${(e as Error).message}`))
      .finally(() => {
        this.lastPassEnd = Date.now();
      });
    return this.passing;
  }

  private async reconcileNow(): Promise<void> {
    if (this.stopped) return;
    const t0 = process.hrtime.bigint();
    await this.follower.refresh(this.tidCtx);
    const { state, configProblems } = await this.desired();
    for (const p of configProblems) log().warn(p);
    const plan = await this.plan(false);
    if (this.stopped) return;
    await this.execute(plan, state.iocs);
    this.passes++;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const c = planSummary(plan);
    log().info(
      `reconcile: ${this.table.size} I/O controller(s); connect ${c.connect}, adopt ${c.adopt}, disconnect ${c.disconnect}, keep ${c.keep} (${ms.toFixed(1)} ms)`,
    );
    await this.saveCache();
  }

  private async execute(plan: ReconcilePlan, desired: ReadonlyMap<string, DesiredIoc>): Promise<void> {
    const disposals: Promise<void>[] = [];
    const maxControllers = this.config.get('I/O controller connection management/max-controllers');
    // disconnects first free their places in the table for this pass's new controllers
    const free =
      maxControllers -
      this.table.size +
      plan.steps.filter((s) => s.kind === 'disconnect' && this.table.has(s.key)).length;
    let added = 0;
    let overCap = 0;
    for (const s of plan.steps) {
      const d = desired.get(s.key);
      const existing = this.table.get(s.key);
      if (!existing && (s.kind === 'connect' || s.kind === 'adopt') && d) {
        if (added >= free) {
          overCap++;
          continue;
        }
        added++;
      }
      switch (s.kind) {
        case 'connect': {
          log().info(`${s.tid} connect: ${s.reason}`);
          let ioc = existing;
          if (!ioc && d) {
            ioc = new IoController(d.tid, d.origin, true, d.dlpe, d.ncc, this.services);
            this.table.set(s.key, ioc);
          }
          ioc?.connectNow(s.resetAttempts);
          break;
        }
        case 'adopt': {
          if (!d) break;
          log().info(`${d.tid} adopt ${s.device}: ${s.reason}`);
          const ioc = new IoController(d.tid, d.origin, false, d.dlpe, d.ncc, this.services);
          this.table.set(s.key, ioc);
          void ioc.adopt(s.device);
          break;
        }
        case 'keep':
          if (s.untrack && existing) {
            log().info(`${existing.tid} released: ${s.reason}`);
            this.table.delete(s.key);
            disposals.push(existing.dispose(false));
          }
          break;
        case 'disconnect':
          log().info(`${s.tid ?? s.device} disconnect: ${s.reason}`);
          if (existing) {
            this.table.delete(s.key);
            disposals.push(
              existing
                .dispose(true)
                .catch((e: unknown) => log().error(`${existing.tid} disconnect failed: ${(e as Error).message}`)),
            );
          } else if (s.foreign) {
            disposals.push(
              this.driver
                .disconnectDevice(s.device)
                .catch((e: unknown) => log().error(`${s.device} disconnect failed: ${(e as Error).message}`)),
            );
          }
          break;
      }
    }
    for (const [k, d] of desired) this.table.get(k)?.update(d.tid, d.dlpe, d.ncc);
    if (overCap > 0 && this.overCap === 0) {
      log().warn(
        `max-controllers=${maxControllers} reached: ${overCap} more I/O controller(s) not connected (logged once until the table has room again)`,
      );
    } else if (overCap === 0 && this.overCap > 0)
      log().info(`max-controllers=${maxControllers}: every wanted I/O controller has a place again`);
    this.overCap = overCap;
    await Promise.all(disposals);
  }

  // ---------------------------------------------------------------------------------------------- cache

  private scheduleCacheSave(): void {
    if (this.cacheTimer || this.stopped) return;
    this.cacheTimer = setTimeout(() => {
      this.cacheTimer = undefined;
      void this.saveCache();
    }, 200);
  }

  private async saveCache(): Promise<void> {
    try {
      await this.cache.save(
        [...this.table.values()].map((c) => ({
          tid: c.tid,
          origin: c.origin,
          madeByStas: c.madeByStas,
          device: c.device,
          ...(c.dlpe ? { dlpe: c.dlpe } : {}),
        })),
      );
    } catch (e) {
      log().error(`Unable to save last known config: ${(e as Error).message}`);
    }
  }

  /** Number of tracked IOCs (tests, bench) */
  get size(): number {
    return this.table.size;
  }
}
