// The kernel fabrics driver: persistent discovery controllers created through /dev/nvme-fabrics (or adopted when a
// matching one already exists, nvme-stas §4.8), their log page read with nvme-cli (RAE handled by
// daemons/nvme/kernel), and their events from kernel uevents: NVME_AEN=0x70f002 (log page changed),
// NVME_EVENT=connected|rediscover (the kernel reconnected: resync), `remove` (the kernel gave up). The kernel sends
// the keep-alives. `persistent-connections` decides whether stop leaves the controller in place.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { resolveDhchapSecret } from '../common/dhchap-keys.js';
import { log } from '../common/log.js';
import { WELL_KNOWN_DISC_NQN } from '../common/tid.js';
import {
  connectionMatches,
  connectionOf,
  deleteController,
  fabricsConnect,
  getKernelDiscoveryLog,
  isDiscoveryCandidate,
  listControllers,
  readController,
  readSupportedOptions,
  SYS_CLASS_NVME,
  type FabricsConnectOptions,
  type KernelController,
} from '../nvme/kernel/index.js';
import { discoveryLogSupport, parseSupportedLogPages, type DiscoveryLogSupport } from '../nvme/protocol/log-pages.js';
import type { DiscoveryLogEntry } from '../nvme/protocol/discovery-log.js';
import { UeventMonitor, isDiscoveryLogChange, ueventDeviceName, type Uevent } from '../udev/index.js';
import type { DcAttributes, DcConnectRequest, DcLink, DcLinkEvents, DriverCounters, FabricsDriver } from './driver.js';
import { NvmeCliCoexistence } from './nvme-cli-coexistence.js';
import { kernelDim } from './kernel-dim.js';
import { DimTask, encodeDimData, type DimHostEntry } from '../nvme/protocol/dim.js';
import { dimHostEntry } from './userspace-driver.js';
import { connectHostId } from '../controllers/identity.js';

const NO_SUPPORT: DiscoveryLogSupport = {
  supported: false,
  extendedEntries: false,
  portLocalEntriesOnly: false,
  allSubsystemEntries: false,
};

function attributesOf(c: KernelController | undefined): DcAttributes {
  return {
    hostid: c?.hostid ?? '',
    hostnqn: c?.hostnqn ?? '',
    model: c?.model ?? '',
    serial: c?.serial ?? '',
    dctype: c?.dctype ?? '',
    cntrltype: c?.cntrltype ?? '',
  };
}

class KernelLink extends EventEmitter<DcLinkEvents> implements DcLink {
  private dead = false;

  constructor(
    readonly device: string,
    readonly attributes: DcAttributes,
    private readonly onClosed: (l: KernelLink) => void,
    /** this host as it registers itself (TP8010 DIM) */
    private readonly dimHost: DimHostEntry,
  ) {
    super();
  }

  /** TP8010 DIM register through nvme-cli's admin passthrough (kernel-dim.ts); a DC's status → NvmeStatusError. */
  async register(): Promise<void> {
    await kernelDim(this.device, DimTask.Register, encodeDimData(this.dimHost));
  }

  /**
   * Usable = not removed and the kernel says `live` (while it reconnects on its own the state is `connecting`; the
   * NVME_EVENT=connected uevent then triggers a resync). sysfs attribute reads never block.
   */
  get alive(): boolean {
    if (this.dead) return false;
    try {
      return readFileSync(`${SYS_CLASS_NVME}/${this.device}/state`, 'utf8').trim() === 'live';
    } catch {
      return false;
    }
  }

  /** a uevent for this link's device */
  uevent(e: Uevent): void {
    if (this.dead) return;
    if (e.action === 'remove') {
      this.dead = true;
      this.onClosed(this);
      this.emit('lost', `the kernel removed ${this.device}`);
      return;
    }
    if (e.action !== 'change') return;
    if (isDiscoveryLogChange(e)) this.emit('logChange');
    const ev = e.properties['NVME_EVENT'];
    if (ev === 'connected' || ev === 'rediscover') {
      log().info(`${this.device}: kernel event ${ev}; resynchronising`);
      this.emit('resync');
    }
  }

  async supportedLogPages(): Promise<DiscoveryLogSupport> {
    const r = await execa('nvme', ['get-log', `/dev/${this.device}`, '--log-id=0', '--log-len=1024', '--raw-binary'], {
      encoding: 'buffer',
      reject: false,
      timeout: 10_000,
      stdin: 'ignore',
    });
    const out = Buffer.from(r.stdout);
    // older kernels answer LID 0x00 on a discovery controller with an error: no PLEO then
    if (r.exitCode !== 0 || out.length < 1024) return NO_SUPPORT;
    return discoveryLogSupport(parseSupportedLogPages(out.subarray(0, 1024)));
  }

  async readDiscoveryLog(lsp: number, maxRecords?: number): Promise<DiscoveryLogEntry[]> {
    return (await getKernelDiscoveryLog(this.device, { lsp, ...(maxRecords !== undefined ? { maxRecords } : {}) }))
      .entries;
  }

  async close(keepConnection: boolean): Promise<void> {
    if (this.dead) return;
    this.dead = true;
    this.onClosed(this);
    if (keepConnection) return;
    await deleteController(this.device);
    log().info(`${this.device}: disconnected`);
  }
}

const num = (v: number | boolean | string | undefined): number | undefined => (typeof v === 'number' ? v : undefined);
const bool = (v: number | boolean | string | undefined): boolean | undefined =>
  typeof v === 'boolean' ? v : undefined;

export class KernelDriver implements FabricsDriver {
  readonly kind = 'kernel' as const;
  private readonly links = new Map<string, KernelLink>();
  private monitor: UeventMonitor | undefined;
  private monitorStarting: Promise<void> | undefined;
  /** connects in flight: a device they create is not foreign even before its link exists */
  private readonly connecting = new Set<Promise<unknown>>();
  /** nvme-cli coexistence (§4.9), set up by start() */
  private coexistence: NvmeCliCoexistence | undefined;

  /** Follows uevents from the start (foreign DCs' events matter too) and shadows nvme-cli's autoconnect rule. */
  async start(): Promise<void> {
    this.coexistence = new NvmeCliCoexistence();
    await this.coexistence.installOverride();
    await this.ensureMonitor();
  }

  private onUevent(e: Uevent): void {
    const name = ueventDeviceName(e);
    const link = this.links.get(name);
    if (link) return link.uevent(e);
    const coexistence = this.coexistence;
    if (!coexistence || e.action !== 'change') return;
    // a device of a connect still in flight is ours: decide once the connects settled (its own first log read
    // follows the connect anyway)
    void Promise.allSettled([...this.connecting]).then(() => {
      if (!this.links.has(name)) return coexistence.foreignUevent(e);
    });
  }

  private ensureMonitor(): Promise<void> {
    if (!this.monitorStarting) {
      const m = new UeventMonitor({ subsystem: 'nvme' });
      m.on('event', (e) => this.onUevent(e));
      this.monitor = m;
      this.monitorStarting = m.start().catch((e: unknown) => {
        // without uevents the log page is still read on connect and reload; say so once
        log().error(
          `kernel driver: cannot follow uevents (${(e as Error).message}); log page changes will not be noticed`,
        );
      });
    }
    return this.monitorStarting;
  }

  connect(req: DcConnectRequest): Promise<DcLink> {
    const p = this.connectNow(req);
    this.connecting.add(p);
    const done = (): void => void this.connecting.delete(p);
    p.then(done, done);
    return p;
  }

  private async connectNow(req: DcConnectRequest): Promise<DcLink> {
    await this.ensureMonitor();
    const { tid } = req;
    const cand = {
      transport: tid.transport,
      traddr: tid.traddr,
      trsvcid: tid.trsvcid,
      subsysnqn: tid.subsysnqn,
      hostTraddr: tid.hostTraddr,
      hostIface: tid.hostIface,
      hostNqn: tid.hostNqn,
    };
    const taken = new Set(this.links.keys());
    const existing = (await listControllers()).find(
      (c) =>
        !taken.has(c.name) &&
        c.state !== 'deleting' &&
        isDiscoveryCandidate(c) &&
        connectionMatches(cand, connectionOf(c)),
    );
    let device: string;
    if (existing) {
      device = existing.name;
      log().info(`${tid} adopting existing kernel controller ${device}`);
    } else {
      const supported = await readSupportedOptions();
      const k = req.kernelOptions;
      const o: FabricsConnectOptions = {
        nqn: tid.subsysnqn,
        transport: tid.transport,
        traddr: tid.traddr,
        trsvcid: tid.trsvcid || undefined,
        hostTraddr: tid.hostTraddr || undefined,
        hostIface: tid.hostIface && (!supported || supported.has('host_iface')) ? tid.hostIface : undefined,
        hostnqn: req.hostnqn,
        hostid: req.hostid || undefined,
        // TP8013: a unique discovery NQN needs the `discovery` option to be taken as a discovery controller
        discovery:
          tid.subsysnqn !== WELL_KNOWN_DISC_NQN && (!supported || supported.has('discovery')) ? true : undefined,
        keepAliveTmo: req.katoSec,
        ctrlLossTmo: num(k.get('ctrl_loss_tmo')),
        reconnectDelay: num(k.get('reconnect_delay')),
        queueSize: num(k.get('queue_size')),
        disableSqflow: bool(k.get('disable_sqflow')),
        hdrDigest: req.hdrDigest || undefined,
        dataDigest: req.dataDigest || undefined,
        dhchapSecret:
          req.dhchapSecret && (!supported || supported.has('dhchap_secret'))
            ? resolveDhchapSecret('dhchap-secret', req.dhchapSecret)
            : undefined,
        dhchapCtrlSecret:
          req.dhchapCtrlSecret && (!supported || supported.has('dhchap_ctrl_secret'))
            ? resolveDhchapSecret('dhchap-ctrl-secret', req.dhchapCtrlSecret)
            : undefined,
      };
      const reply = await fabricsConnect(o, supported ? { supported } : {});
      device = `nvme${reply.instance}`;
    }
    const attrs = attributesOf(await readController(device));
    // the host ID the kernel sent in Connect (sysfs), else the one the userspace host would use
    const dimHost = dimHostEntry(
      attrs.hostnqn || req.hostnqn,
      connectHostId(attrs.hostid || req.hostid, req.hostnqn),
      req.symname,
      tid.traddr,
    );
    const link = new KernelLink(
      device,
      attrs,
      (l) => {
        if (this.links.get(l.device) === l) this.links.delete(l.device);
      },
      dimHost,
    );
    this.links.set(device, link);
    return link;
  }

  counters(): DriverCounters {
    return { protocolErrors: 0 };
  }

  async stop(): Promise<void> {
    this.monitor?.stop();
    this.links.clear();
    await this.coexistence?.removeOverride();
  }
}
