// The kernel I/O driver: connects through /dev/nvme-fabrics with the option string nvme-cli/libnvme write, adopts
// existing controllers from sysfs with nvme-stas's matching rules (§4.8, src_addr included), follows uevents
// (`udevadm monitor --kernel`) to notice removed controllers, and disconnects with delete_controller. The kernel
// keeps a connection alive and reconnects it itself (ctrl_loss_tmo); a `remove` uevent ends the link.
import { EventEmitter } from 'node:events';
import {
  FABRICS_DEVICE,
  connectionMatches,
  connectionOf,
  deleteController,
  fabricsConnect,
  hostInterfaces,
  isIoCandidate,
  listControllers,
  readController,
  readSupportedOptions,
  SYS_CLASS_NVME,
  type KernelController,
  type SupportedOptions,
  type FabricsConnectOptions,
} from '../nvme/kernel/index.js';
import { UeventMonitor, type Uevent } from '../udev/index.js';
import { log } from '../common/log.js';
import { resolveDhchapSecret } from '../common/dhchap-keys.js';
import type { TID } from '../common/tid.js';
import type { ForeignIoc } from './planner.js';
import type { IocAttributes, IocConnectRequest, IocDriver, IocDriverEvents, IocLink, IocLinkEvents } from './driver.js';

const FABRICS_TRANSPORTS = new Set(['tcp', 'rdma', 'fc', 'loop']);

/** The kernel option set of one connect (libnvme order is applied by buildOptionString). */
export function kernelConnectOptions(req: IocConnectRequest): FabricsConnectOptions {
  const { tid, options: o } = req;
  const f: FabricsConnectOptions = {
    nqn: tid.subsysnqn,
    transport: tid.transport,
    traddr: tid.traddr,
    trsvcid: tid.trsvcid || undefined,
    hostTraddr: tid.hostTraddr || undefined,
    hostIface: tid.hostIface || undefined,
    hostnqn: req.hostnqn || undefined,
    hostid: req.hostid || undefined,
    // file:PATH read here, at each connect (a rotated key file is picked up); the kernel gets the DHHC-1 text
    dhchapSecret: req.dhchapSecret ? resolveDhchapSecret('dhchap-secret', req.dhchapSecret) : undefined,
    dhchapCtrlSecret: req.dhchapCtrlSecret
      ? resolveDhchapSecret('dhchap-ctrl-secret', req.dhchapCtrlSecret)
      : undefined,
    nrIoQueues: o.nrIoQueues,
    nrWriteQueues: o.nrWriteQueues,
    nrPollQueues: o.nrPollQueues,
    queueSize: o.queueSize,
    keepAliveTmo: o.keepAliveTmo,
    reconnectDelay: o.reconnectDelay,
    ctrlLossTmo: o.ctrlLossTmo,
    disableSqflow: o.disableSqflow,
    hdrDigest: o.hdrDigest,
    dataDigest: o.dataDigest,
  };
  return f;
}

function attributesOf(c: KernelController): IocAttributes {
  const clean = (v: string): string => (v === '(efault)' ? '' : v);
  return {
    hostid: clean(c.hostid),
    hostnqn: clean(c.hostnqn),
    model: clean(c.model),
    serial: clean(c.serial),
    dctype: clean(c.dctype),
    cntrltype: clean(c.cntrltype),
  };
}

class KernelIocLink extends EventEmitter<IocLinkEvents> implements IocLink {
  private dead = false;

  constructor(
    readonly device: string,
    readonly attributes: IocAttributes,
    readonly adopted: boolean,
    private readonly root: string,
    private readonly onEnd: (l: KernelIocLink) => void,
  ) {
    super();
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** the kernel removed the device (ctrl_loss_tmo expired, nvme disconnect by someone) */
  removed(): void {
    if (this.dead) return;
    this.dead = true;
    this.onEnd(this);
    this.emit('lost', `kernel controller ${this.device} was removed`);
  }

  async close(disconnect: boolean): Promise<void> {
    if (this.dead) return;
    this.dead = true;
    this.onEnd(this);
    if (disconnect) await deleteController(this.device, this.root);
  }
}

export interface KernelDriverOptions {
  fabricsDevice?: string;
  sysClassNvme?: string;
  /** uevents; default `udevadm monitor --kernel` (rescans sysfs every 30 s and after a restart of udevadm) */
  monitor?: UeventMonitor;
}

export class KernelIocDriver extends EventEmitter<IocDriverEvents> implements IocDriver {
  readonly kind = 'kernel' as const;
  private readonly links = new Map<string, KernelIocLink>();
  private readonly device: string;
  private readonly root: string;
  private readonly monitor: UeventMonitor;
  private supported: SupportedOptions | undefined;
  /** one connect at a time: the match-then-connect sequence must not race with itself (duplicates) */
  private serial: Promise<unknown> = Promise.resolve();

  constructor(opts: KernelDriverOptions = {}) {
    super();
    this.device = opts.fabricsDevice ?? FABRICS_DEVICE;
    this.root = opts.sysClassNvme ?? SYS_CLASS_NVME;
    this.monitor = opts.monitor ?? new UeventMonitor({ rescanIntervalMs: 30_000 });
  }

  async start(): Promise<void> {
    try {
      this.supported = await readSupportedOptions(this.device);
    } catch (e) {
      log().warn(`cannot read the options ${this.device} supports: ${(e as Error).message}`);
    }
    this.monitor.on('event', (ev) => this.onUevent(ev));
    this.monitor.on('rescan', () => void this.rescan());
    try {
      await this.monitor.start();
    } catch (e) {
      // without uevents, the periodic rescan is all there is
      log().error(`kernel driver: ${(e as Error).message}; removed controllers are noticed by rescanning sysfs`);
      const t = setInterval(() => void this.rescan(), 30_000);
      t.unref();
    }
  }

  private onUevent(ev: Uevent): void {
    const name = ev.properties.DEVNAME?.replace(/^\/dev\//, '') ?? ev.devpath.split('/').pop() ?? '';
    if (!/^nvme\d+$/.test(name)) return;
    if (ev.action === 'remove') this.links.get(name)?.removed();
    if (ev.action === 'add' || ev.action === 'remove') this.emit('changed');
  }

  /** catches removals a dead udevadm missed */
  private async rescan(): Promise<void> {
    for (const [name, link] of this.links) {
      const c = await readController(name, this.root).catch(() => undefined);
      if (!c) link.removed();
    }
  }

  private track(c: KernelController, adopted: boolean): KernelIocLink {
    const link = new KernelIocLink(c.name, attributesOf(c), adopted, this.root, (l) => {
      if (this.links.get(l.device) === l) this.links.delete(l.device);
    });
    this.links.set(c.name, link);
    return link;
  }

  private async findExisting(tid: TID): Promise<KernelController | undefined> {
    const ifs = hostInterfaces();
    const all = await listControllers(this.root);
    return all.find(
      (c) =>
        FABRICS_TRANSPORTS.has(c.transport) &&
        !this.links.has(c.name) &&
        c.state !== 'deleting' &&
        isIoCandidate(c) &&
        connectionMatches(tid, connectionOf(c), ifs),
    );
  }

  connect(req: IocConnectRequest): Promise<IocLink> {
    const run = async (): Promise<IocLink> => {
      const existing = await this.findExisting(req.tid);
      if (existing) {
        log().info(`${req.tid}: found existing kernel controller ${existing.name}; adopting it`);
        return this.track(existing, true);
      }
      const reply = await fabricsConnect(kernelConnectOptions(req), {
        device: this.device,
        ...(this.supported ? { supported: this.supported } : {}),
      });
      const c = await readController(reply.device, this.root);
      if (!c) throw new Error(`${req.tid}: the kernel created ${reply.device} but it vanished at once`);
      return this.track(c, false);
    };
    const p = this.serial.then(run, run);
    this.serial = p.catch(() => undefined);
    return p;
  }

  async adopt(device: string, tid: TID): Promise<IocLink> {
    const c = await readController(device, this.root);
    if (!c) throw new Error(`${tid}: kernel controller ${device} no longer exists`);
    if (this.links.has(device)) throw new Error(`${tid}: kernel controller ${device} is already followed`);
    return this.track(c, true);
  }

  async foreign(): Promise<ForeignIoc[]> {
    const all = await listControllers(this.root);
    return all
      .filter(
        (c) =>
          FABRICS_TRANSPORTS.has(c.transport) &&
          !this.links.has(c.name) &&
          c.state !== 'deleting' &&
          isIoCandidate(c) &&
          c.subsysnqn !== 'nqn.2014-08.org.nvmexpress.discovery',
      )
      .map((c) => ({ device: c.name, conn: connectionOf(c) }));
  }

  async disconnectDevice(device: string): Promise<void> {
    await deleteController(device, this.root);
  }

  async stop(): Promise<void> {
    this.monitor.stop();
    // never disconnects: the kernel keeps the I/O controllers, the next stacd adopts them
    this.links.clear();
  }
}
