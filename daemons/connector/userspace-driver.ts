// The userspace I/O driver: one admin session + nr-io-queues I/O queues (default 1, each its own TCP connection, as
// many as the controller grants) per I/O controller over stas's own NVMe/TCP host (daemons/nvme/tcp). The admin
// session sends Keep Alive at KATO/2; a dead session or queue ends the link and the controller object reconnects
// (3 s, then 60 s). Used where the kernel path is absent (containers, CI, no root). host-traddr/host-iface pick the
// source address (nvme/tcp/host-binding.ts). Limits (documented): no DH-HMAC-CHAP, and the sessions live in this
// process (a stacd restart re-creates them from its cache at once).
import { resolveDhchapKeys } from '../common/dhchap-keys.js';
import { EventEmitter } from 'node:events';
import { AdminSession, IoQueue, NvmeTcpError, localAddressFor } from '../nvme/tcp/index.js';
import { connectHostId, identifyAttributes } from '../controllers/identity.js';
import { log } from '../common/log.js';
import type { TID } from '../common/tid.js';
import type { ForeignIoc } from './planner.js';
import type { IocAttributes, IocConnectRequest, IocDriver, IocDriverEvents, IocLink, IocLinkEvents } from './driver.js';

const CONNECT_TIMEOUT_MS = 5_000;
const COMMAND_TIMEOUT_MS = 10_000;
/** keep-alive timeout when none is configured (the kernel's NVME_DEFAULT_KATO is 5 s; a TCG VM needs slack) */
const DEFAULT_KATO_SEC = 15;

export const ADDRESS_MAP_ENV = 'STAS_USERSPACE_ADDRESS_MAP';

/**
 * Where to really connect for an advertised address: `STAS_USERSPACE_ADDRESS_MAP="10.0.2.15:4420=127.0.0.1:34567,…"`
 * (a target behind NAT/port forwards, e.g. a VM with user networking, advertises addresses the host cannot reach).
 * The TID keeps the advertised address; only the socket goes elsewhere.
 */
export function parseAddressMap(text: string | undefined): Map<string, { host: string; port: number }> {
  const m = new Map<string, { host: string; port: number }>();
  for (const item of (text ?? '').split(',')) {
    const [from, to] = item.split('=').map((s) => s.trim());
    if (!from || !to) continue;
    const i = to.lastIndexOf(':');
    const port = Number(to.slice(i + 1));
    if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
      log().warn(`${ADDRESS_MAP_ENV}: "${item}" is not from=host:port; ignored`);
      continue;
    }
    m.set(from, { host: to.slice(0, i), port });
  }
  return m;
}

class UserspaceIocLink extends EventEmitter<IocLinkEvents> implements IocLink {
  readonly device = 'nvme?';
  readonly adopted = false;
  private dead = false;

  constructor(
    private readonly session: AdminSession,
    private readonly io: readonly IoQueue[],
    readonly attributes: IocAttributes,
  ) {
    super();
    const lost = (reason: NvmeTcpError): void => {
      if (this.dead) return;
      this.dead = true;
      this.session.close();
      for (const q of this.io) q.close();
      this.emit('lost', reason.message);
    };
    session.on('close', lost);
    for (const q of io) q.queue.on('close', lost);
  }

  get alive(): boolean {
    return !this.dead && !this.session.closed && this.io.every((q) => !q.queue.closed);
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.dead = true;
    // a userspace association cannot outlive its owner: closing is all there is, whatever the scope says
    for (const q of this.io) q.close();
    await this.session.shutdown(2_000).catch(() => undefined);
  }
}

export class UserspaceIocDriver extends EventEmitter<IocDriverEvents> implements IocDriver {
  readonly kind = 'userspace' as const;
  private readonly links = new Set<UserspaceIocLink>();
  private readonly addressMap = parseAddressMap(process.env[ADDRESS_MAP_ENV]);

  async start(): Promise<void> {
    if (this.addressMap.size)
      log().info(
        `userspace driver: address map ${[...this.addressMap].map(([k, v]) => `${k}→${v.host}:${v.port}`).join(', ')}`,
      );
  }

  async connect(req: IocConnectRequest): Promise<IocLink> {
    const { tid, options: o } = req;
    if (tid.transport !== 'tcp') throw new Error(`the userspace driver only speaks tcp (transport ${tid.transport})`);
    const dhchap = resolveDhchapKeys(req.dhchapSecret, req.dhchapCtrlSecret);
    const mapped = this.addressMap.get(`${tid.traddr}:${tid.trsvcid}`);
    const target = mapped ?? { host: tid.traddr, port: Number(tid.trsvcid) };
    // a mapped address is a stand-in reached some other way (a loopback forward): no binding to the LAN side then
    const localAddress = mapped
      ? undefined
      : localAddressFor({ hostTraddr: tid.hostTraddr, hostIface: tid.hostIface, traddr: tid.traddr });
    const hostid = connectHostId(req.hostid, req.hostnqn);
    const session = await AdminSession.connect({
      host: target.host,
      port: target.port,
      ...(localAddress ? { localAddress } : {}),
      subnqn: tid.subsysnqn,
      hostnqn: req.hostnqn,
      hostid,
      katoMs: (o.keepAliveTmo ?? DEFAULT_KATO_SEC) * 1000,
      hdgst: o.hdrDigest ?? false,
      ddgst: o.dataDigest ?? false,
      disableSqFlow: o.disableSqflow ?? false,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      icTimeoutMs: CONNECT_TIMEOUT_MS,
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      label: `${tid.traddr}:${tid.trsvcid} ${tid.subsysnqn}`,
      ...(dhchap ? { dhchap } : {}),
    });
    try {
      const id = await session.identifyController();
      const sqsize = o.queueSize !== undefined ? Math.max(1, o.queueSize - 1) : undefined;
      const wanted = o.nrIoQueues ?? 1;
      const granted = await session.requestIoQueues(wanted);
      const count = Math.min(wanted, granted);
      if (count < wanted)
        log().info(`${tid}: the controller grants ${granted} I/O queue(s) of the ${wanted} asked for`);
      const io: IoQueue[] = [];
      try {
        for (let qid = 1; qid <= count; qid++)
          io.push(await IoQueue.open(session, { qid, identify: id, ...(sqsize !== undefined ? { sqsize } : {}) }));
      } catch (e) {
        for (const q of io) q.close();
        throw e;
      }
      const link = new UserspaceIocLink(session, io, identifyAttributes(id, hostid, req.hostnqn));
      this.links.add(link);
      link.on('lost', () => this.links.delete(link));
      return link;
    } catch (e) {
      session.close();
      throw e;
    }
  }

  async adopt(device: string, tid: TID): Promise<IocLink> {
    throw new Error(`${tid}: the userspace driver cannot adopt kernel controller ${device}`);
  }

  async foreign(): Promise<ForeignIoc[]> {
    return []; // nothing exists outside this process
  }

  async disconnectDevice(device: string): Promise<void> {
    throw new Error(`the userspace driver cannot disconnect kernel controller ${device}`);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.links].map((l) => l.close()));
    this.links.clear();
  }
}
