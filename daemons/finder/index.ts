// stafd's engine: the set of discovery controllers (configured, mDNS-discovered, referrals, restored from the
// cache), kept in step with the configuration by the reconfiguration pass (§4.2, 1.5 s soak), and the
// org.nvmexpress.staf D-Bus adapter over it.
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { Engine, EngineContext } from '../runtime/daemon-runtime.js';
import type { ServiceConfig } from '../config/service-config.js';
import type { SysConfig } from '../config/sys-config.js';
import { configuredTid } from '../config/controllers.js';
import type { TimeSpan } from '../config/timespan.js';
import { baseProcessInfo } from '../runtime/process-info.js';
import { hostInfo } from '../runtime/host-info.js';
import { Timer } from '../common/timer.js';
import { kernelSupport } from '../common/kernel-support.js';
import { jsonDumps, type PyValue } from '../common/pyfmt.js';
import { TID, type TidContext } from '../common/tid.js';
import { isExcluded } from '../common/exclude.js';
import { log } from '../common/log.js';
import type { InterfaceImpl } from '../dbus/exported-object.js';
import { ZeroconfSource, type ZeroconfDc, type ZeroconfInfo } from '../mdns/index.js';
import { DiscoveryController, type DcServices } from './discovery-controller.js';
import type { DcConnectRequest, FabricsDriver } from './driver.js';
import { createDriver } from './select-driver.js';
import { planReconfiguration, type CurrentDc } from './reconcile.js';
import { LastKnownConfig, finderStateDir } from './cache.js';

export const STAF_IFACE = 'org.nvmexpress.staf';
const MAX_LOG_ENTRIES = 'Discovery controller connection management/max-log-entries';
export const CONFIG_SOAK_SEC = 1.5;
const CACHE_SAVE_DELAY_MS = 200;
const DEFAULT_KATO_SEC = 30;
/** how long stop waits for parked controllers (connects in flight) before exiting anyway */
const STOP_PARKED_WAIT_MS = 15_000;

export interface FinderDeps {
  sys: SysConfig;
  /** overrides the driver selection (tests, bench) */
  driver?: FabricsDriver;
  /** overrides the state directory (default: STATE_DIRECTORY, RUNTIME_DIRECTORY, /var/lib/stas/stafd) */
  stateDir?: string;
}

type Tuple7 = [string, string, string, string, string, string, string];

function safe<T>(read: () => T, fallback: T, what: string): T {
  try {
    return read();
  } catch (e) {
    log().error(`${what}: ${(e as Error).message}`);
    return fallback;
  }
}

export class Finder implements Engine<ServiceConfig> {
  private config: ServiceConfig;
  private readonly dcs = new Map<string, DiscoveryController>();
  private readonly soak: Timer;
  private readonly auditTimer = new Timer(30, () => undefined);
  private readonly driver: FabricsDriver;
  private readonly cache: LastKnownConfig;
  private readonly support = kernelSupport();
  private readonly hostNqn: string;
  private readonly hostId: string;
  private readonly symname: string | null;
  private tidCtx: TidContext;
  private zeroconf: ZeroconfSource | undefined;
  private malformedDlpe = 0;
  private passing: Promise<void> = Promise.resolve();
  private cacheTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly services: DcServices;
  /** removed DCs still being terminated (parked behind a connect in flight) */
  private readonly terminating = new Set<Promise<void>>();
  /** referral refusals (caps, self-references) logged by the last pass: each text is logged once while it lasts */
  private referralNotices = new Set<string>();

  constructor(
    private readonly ctx: EngineContext<ServiceConfig>,
    private readonly deps: FinderDeps,
  ) {
    this.config = ctx.config;
    this.hostNqn = safe(() => deps.sys.hostnqn, '', 'host NQN');
    this.hostId = safe(() => deps.sys.hostid ?? '', '', 'host ID');
    this.symname = safe(() => deps.sys.symname, null, 'host symbolic name');
    this.tidCtx = { ignoreIface: this.config.ignoreIface, hostNqn: this.hostNqn };
    this.soak = new Timer(CONFIG_SOAK_SEC, () => this.reconfigure());
    this.driver = deps.driver ?? createDriver();
    this.cache = new LastKnownConfig(deps.stateDir ?? finderStateDir());
    this.services = {
      driver: this.driver,
      connectRequest: (tid) => this.connectRequest(tid),
      pleoEnabled: () => this.config.pleo,
      zeroconfPersistence: (): TimeSpan => this.config.zeroconfPersistence,
      stillAdvertised: (tid) => this.advertisedTids().some((t) => t.equals(tid)),
      countMalformedEntries: (n) => {
        this.malformedDlpe += n;
      },
      maxLogEntries: () => this.config.get(MAX_LOG_ENTRIES),
    };
    this.restoreFromCache();
  }

  // ------------------------------------------------------------------------------------------------ D-Bus

  interfaces(): Record<string, InterfaceImpl> {
    return {
      [STAF_IFACE]: {
        methods: {
          list_controllers: (detailed: boolean): Record<string, string>[] =>
            [...this.dcs.values()].map((dc) => (detailed ? dc.detailsDict() : dc.idDict())),
          get_log_pages: (...t: Tuple7): Record<string, string>[] => this.find(t)?.logPages ?? [],
          // same text as json.dumps([{"discovery-controller": ..., "log-pages": [...]}, ...]), pieced together so
          // that each DC's log pages are serialised once per read, not once per call
          get_all_log_pages: (detailed: boolean): string =>
            '[' +
            [...this.dcs.values()]
              .map(
                (dc) =>
                  `{"discovery-controller": ${jsonDumps(detailed ? dc.detailsDict() : dc.idDict())}, "log-pages": ${dc.logPagesJson()}}`,
              )
              .join(', ') +
            ']',
        },
      },
    };
  }

  processInfo(): Record<string, PyValue> {
    const avahi: ZeroconfInfo = this.zeroconf?.info() ?? {
      'avahi wake up timer': 'None',
      'service types': [],
      services: {},
    };
    const z = this.zeroconf?.errorCounters();
    return {
      ...baseProcessInfo({
        host: hostInfo(this.deps.sys),
        lastKnownConfigFile: this.cache.path,
        configSoakTimer: this.soak,
        tp8013: this.support.discovery,
        hostIface: this.support.hostIface,
        auditTimer: this.auditTimer,
      }),
      avahi: avahi as unknown as PyValue,
      // stas extras (not in nvme-stas): which driver carries the connections, and counters of bad input
      'stas.fabrics driver': this.driver.kind,
      'stas.avahi backend': this.zeroconf?.backend ?? 'none',
      'stas.malformed dlp entries': this.malformedDlpe,
      'stas.malformed txt records': (z?.malformedTxtRecords ?? 0) + (z?.invalidProtocol ?? 0),
      'stas.protocol errors': this.driver.counters().protocolErrors,
    };
  }

  controllerInfo(t: Tuple7): Record<string, PyValue> | undefined {
    return this.find(t)?.infoDict();
  }

  private find(t: Tuple7): DiscoveryController | undefined {
    const [transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNqn] = t;
    const tid = TID.fromTuple({ transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNqn }, this.tidCtx);
    return this.dcs.get(tid.key());
  }

  // ------------------------------------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    await this.driver.start?.();
    await this.startZeroconf();
    this.soak.start();
  }

  async reload(config: ServiceConfig): Promise<void> {
    const old = this.config;
    this.config = config;
    this.ctx.config = config;
    this.tidCtx = { ignoreIface: config.ignoreIface, hostNqn: this.hostNqn };
    if (old.stypes.join() !== config.stypes.join()) {
      await this.zeroconf?.stop();
      this.zeroconf = undefined;
      await this.startZeroconf();
    }
    this.soak.start();
    for (const dc of this.dcs.values()) dc.reload();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.soak.stop();
    await this.passing;
    if (this.cacheTimer) clearTimeout(this.cacheTimer);
    await this.saveCache();
    await this.zeroconf?.stop();
    const keep = this.config.persistentConnections;
    for (const dc of this.dcs.values()) void this.terminate(dc, keep);
    this.dcs.clear();
    await this.drainTerminations();
    await this.driver.stop();
  }

  /** Hands a DC to the terminator (dispose) and tracks it until it is fully closed. */
  private terminate(dc: DiscoveryController, keepConnection: boolean): Promise<void> {
    const done = dc
      .dispose(keepConnection)
      .catch((e: unknown) => log().warn(`${dc.tid} termination failed: ${(e as Error).message}`));
    this.terminating.add(done);
    void done.finally(() => this.terminating.delete(done));
    return done;
  }

  /** Waits for every termination, parked ones included, for at most STOP_PARKED_WAIT_MS. */
  private async drainTerminations(): Promise<void> {
    if (this.terminating.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), STOP_PARKED_WAIT_MS)));
    const r = await Promise.race([Promise.all([...this.terminating]).then(() => 'done' as const), late]);
    clearTimeout(timer);
    if (r === 'late')
      log().warn(
        `stop: ${this.terminating.size} controller(s) still parked behind a connect after ${STOP_PARKED_WAIT_MS / 1000} s; exiting without them`,
      );
  }

  private async startZeroconf(): Promise<void> {
    if (this.config.stypes.length === 0) return;
    const z = new ZeroconfSource({
      bus: this.ctx.bus,
      serviceTypes: this.config.stypes,
      kernelSupportsDiscovery: this.support.discovery,
    });
    z.on('change', (list: ZeroconfDc[]) => {
      log().debug(`mDNS: ${list.length} reachable discovery controller(s)`);
      this.soak.start();
    });
    this.zeroconf = z;
    try {
      await z.start();
    } catch (e) {
      log().error(`zeroconf: cannot start mDNS discovery: ${(e as Error).message}`);
    }
  }

  // --------------------------------------------------------------------------------------------- the DCs

  private restoreFromCache(): void {
    const { dcs, problems } = this.cache.load(this.tidCtx);
    for (const p of problems) log().warn(p);
    const max = this.config.get(MAX_LOG_ENTRIES);
    for (const c of dcs) {
      if (this.dcs.has(c.tid.key())) continue;
      // a log page stafd would no longer accept is not served from the cache either (it is read again on connect)
      let pages = c.logPages;
      if (pages.length > max) {
        log().warn(
          `${c.tid} cached log page has ${pages.length} entries, more than max-log-entries=${max}; not restored`,
        );
        pages = [];
      }
      this.addDc(c.tid, c.origin, pages);
    }
    if (dcs.length)
      log().info(`restored ${dcs.length} discovery controller(s) and their log pages from ${this.cache.path}`);
  }

  private addDc(tid: TID, origin: CurrentDc['origin'], cached: CurrentDc['logPages'] = []): DiscoveryController {
    const dc = new DiscoveryController(tid, origin, this.services, [...cached]);
    dc.on('logPages', () => {
      if (this.dcs.get(dc.tid.key()) !== dc) return;
      const t = dc.tid;
      try {
        this.ctx
          .object()
          .emitSignal(
            STAF_IFACE,
            'log_pages_changed',
            t.transport,
            t.traddr,
            t.trsvcid,
            t.subsysnqn,
            t.hostTraddr,
            t.hostIface,
            t.hostNqn,
            dc.device,
          );
      } catch (e) {
        log().debug(`log_pages_changed not emitted: ${(e as Error).message}`);
      }
      this.scheduleCacheSave();
    });
    dc.on('referralsChanged', () => this.soak.start());
    dc.on('unresponsiveExpired', () => this.soak.start());
    this.dcs.set(tid.key(), dc);
    dc.start();
    return dc;
  }

  private connectRequest(tid: TID): DcConnectRequest {
    const params = this.config.connectParams(tid.cfg);
    const kernelOptions = new Map<string, number | boolean | string>();
    for (const p of params) kernelOptions.set(p.kernel, p.value);
    const kato = kernelOptions.get('keep_alive_tmo');
    const num = (v: unknown): number | undefined =>
      typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
    const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
    return {
      tid,
      hostnqn: this.hostNqn,
      hostid: this.hostId,
      symname: this.symname,
      katoSec: num(kato) ?? DEFAULT_KATO_SEC,
      hdrDigest: kernelOptions.get('hdr_digest') === true,
      dataDigest: kernelOptions.get('data_digest') === true,
      kernelOptions,
      dhchapSecret: str(tid.get('dhchap-secret')),
      dhchapCtrlSecret: str(tid.get('dhchap-ctrl-secret')),
    };
  }

  private advertisedTids(): TID[] {
    return (this.zeroconf?.controllers() ?? []).map((d) =>
      TID.fromCid(
        [
          ['transport', d.transport],
          ['traddr', d.traddr],
          ['trsvcid', d.trsvcid],
          ['subsysnqn', d.subsysnqn],
          ['host-iface', d.hostIface],
        ],
        this.tidCtx,
      ),
    );
  }

  private excluded(tid: TID): boolean {
    return isExcluded(this.config.excludes, tid.matchDict());
  }

  private validAddress(tid: TID, warn: boolean): boolean {
    if (tid.transport === 'fc' || tid.transport === 'loop') return true;
    if (tid.transport !== 'tcp' && tid.transport !== 'rdma') {
      if (warn) log().warn(`${tid} Invalid transport "${tid.transport}"; ignored`);
      return false;
    }
    const fam = isIP(tid.traddr);
    if (fam === 4 && this.config.ipv4Enabled) return true;
    if (fam === 6 && this.config.ipv6Enabled) return true;
    if (warn && fam !== 0) log().warn(`Excluding configured IP address ${tid.traddr} based on "ip-family" setting`);
    return false;
  }

  /** Configured DCs (§4.2 steps 1-3): parse, exclude, resolve host names, drop disabled families. */
  private async configuredTids(): Promise<TID[]> {
    const out: TID[] = [];
    for (const spec of this.config.controllers) {
      const r = configuredTid('stafd', spec, this.tidCtx);
      if ('reason' in r) {
        log().warn(`${spec.ref.file}:${spec.ref.line}: controller= entry ignored: ${r.reason}`);
        continue;
      }
      let tid = r.tid;
      if (this.excluded(tid)) continue;
      if ((tid.transport === 'tcp' || tid.transport === 'rdma') && isIP(tid.traddr) === 0) {
        const resolved = await this.resolve(tid.traddr);
        if (!resolved) continue;
        tid = TID.fromCid(
          tid.asCid().map(([k, v]) => (k === 'traddr' ? [k, resolved] : [k, v])),
          this.tidCtx,
        );
        if (this.excluded(tid)) continue;
      }
      if (!this.validAddress(tid, true)) continue;
      out.push(tid);
    }
    return out;
  }

  private async resolve(name: string): Promise<string | undefined> {
    const families: (4 | 6)[] = [];
    if (this.config.ipv4Enabled) families.push(4);
    if (this.config.ipv6Enabled) families.push(6);
    for (const family of families) {
      try {
        return (await lookup(name, { family })).address;
      } catch {
        // try the next family
      }
    }
    log().error(
      `Cannot resolve traddr "${name}" (ip-family ${this.config.ipFamily.map((f) => `ipv${f}`).join('+')}); controller ignored`,
    );
    return undefined;
  }

  /** One reconfiguration pass; passes never overlap. */
  private reconfigure(): Promise<void> {
    this.passing = this.passing
      .then(() => this.reconfigureNow())
      .catch((e: unknown) => log().error(`reconfiguration failed: ${(e as Error).message}`));
    return this.passing;
  }

  private async reconfigureNow(): Promise<void> {
    if (this.stopped) return;
    const t0 = process.hrtime.bigint();
    const configured = await this.configuredTids();
    if (this.stopped) return;
    const current = new Map<string, CurrentDc>();
    for (const [k, dc] of this.dcs)
      current.set(k, {
        tid: dc.tid,
        origin: dc.origin,
        unresponsiveExpired: dc.unresponsiveExpired,
        logPages: dc.logPages,
      });
    const plan = planReconfiguration({
      configured,
      advertised: this.advertisedTids(),
      current,
      excluded: (t) => this.excluded(t),
      valid: (t) => this.validAddress(t, false),
      tidContext: this.tidCtx,
      maxReferralsPerDc: this.config.get('Discovery controller connection management/max-referrals-per-controller'),
      maxReferrals: this.config.get('Discovery controller connection management/max-referrals'),
    });
    const notices = new Set(plan.ignoredReferrals);
    for (const why of notices) if (!this.referralNotices.has(why)) log().warn(`referral ignored: ${why}`);
    this.referralNotices = notices;

    if (plan.toDel.length) {
      await Promise.all(
        plan.toDel.map(async (k) => {
          const dc = this.dcs.get(k);
          this.dcs.delete(k);
          if (dc) {
            log().info(`${dc.tid} removed (${dc.origin})`);
            // a parked DC finishes in the background: the pass (and dc_removed) does not wait for its connect
            const done = this.terminate(dc, false);
            if (!dc.parked) await done;
          }
        }),
      );
      try {
        this.ctx.object().emitSignal(STAF_IFACE, 'dc_removed');
      } catch (e) {
        log().debug(`dc_removed not emitted: ${(e as Error).message}`);
      }
    }
    for (const [k, p] of plan.want) {
      const dc = this.dcs.get(k);
      if (!dc) continue;
      dc.tid = p.tid; // same identity; the config bag (connect overrides, secrets) may have changed
      if (dc.origin !== p.origin) dc.setOrigin(p.origin);
    }
    for (const p of plan.toAdd) {
      log().info(`${p.tid} added (${p.origin})`);
      this.addDc(p.tid, p.origin);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    log().debug(
      `reconfiguration: ${this.dcs.size} DC(s), +${plan.toAdd.length} -${plan.toDel.length} in ${ms.toFixed(1)} ms`,
    );
    await this.saveCache();
  }

  // ---------------------------------------------------------------------------------------------- cache

  private scheduleCacheSave(): void {
    if (this.cacheTimer || this.stopped) return;
    this.cacheTimer = setTimeout(() => {
      this.cacheTimer = undefined;
      void this.saveCache();
    }, CACHE_SAVE_DELAY_MS);
  }

  private async saveCache(): Promise<void> {
    try {
      await this.cache.save(
        [...this.dcs.values()].map((dc) => ({ tid: dc.tid, origin: dc.origin, logPages: dc.logPages })),
      );
    } catch (e) {
      log().error(`Unable to save last known config: ${(e as Error).message}`);
    }
  }

  /** Number of DCs (bench, tests through the engine) */
  get size(): number {
    return this.dcs.size;
  }
}

export function createFinderEngine(ctx: EngineContext<ServiceConfig>, deps: FinderDeps): Engine<ServiceConfig> {
  return new Finder(ctx, deps);
}
