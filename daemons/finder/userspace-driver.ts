// The userspace fabrics driver: one admin session per discovery controller over stas's own NVMe/TCP host
// (daemons/nvme/tcp). No kernel module, no root. The session keeps itself alive at KATO/2 and keeps one AER
// outstanding; a Discovery Log Page Change notice becomes a 'logChange' event at once.
import { resolveDhchapKeys } from '../common/dhchap-keys.js';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import os from 'node:os';
import {
  AdminSession,
  readDiscoveryLog,
  DiscoveryLogUnstableError,
  NvmeTcpError,
  NvmeStatusError,
  hostIdBytes,
  localAddressFor,
} from '../nvme/tcp/index.js';
import { DimTask, encodeDimData, type DimHostEntry } from '../nvme/protocol/dim.js';
import { LogPageId } from '../nvme/protocol/constants.js';
import { discoveryLogSupport, parseSupportedLogPages, type DiscoveryLogSupport } from '../nvme/protocol/log-pages.js';
import type { DiscoveryLogEntry } from '../nvme/protocol/discovery-log.js';
import { log } from '../common/log.js';
import { connectHostId, identifyAttributes } from '../controllers/identity.js';
import type { DcAttributes, DcConnectRequest, DcLink, DcLinkEvents, DriverCounters, FabricsDriver } from './driver.js';

const CONNECT_TIMEOUT_MS = 5_000;
const COMMAND_TIMEOUT_MS = 10_000;

/** Whether a failure means the peer broke the protocol (counted in process_info), not just "went away". */
export function isProtocolFailure(e: unknown): boolean {
  if (!(e instanceof NvmeTcpError)) return false;
  if (e.kind === 'protocol' || e.kind === 'term-req' || e.kind === 'not-nvme') return true;
  return e.kind === 'closed' && e.message.includes('in the middle of a PDU');
}

/** TP8010 EVER: `<ostype> <osrelease> <distro PRETTY_NAME>`, e.g. `Linux 6.1.0-18-amd64 Debian GNU/Linux 12 (bookworm)`. */
export function entityVersion(): string {
  let distro = '';
  for (const f of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      const m = /^PRETTY_NAME=(.*)$/m.exec(readFileSync(f, 'utf8'));
      if (m) {
        distro = m[1]!.trim().replace(/^(["'])(.*)\1$/, '$2');
        break;
      }
    } catch {
      /* try the next one */
    }
  }
  return [os.type(), os.release(), distro].filter((s) => s !== '').join(' ');
}

/**
 * This host as a TP8010 DIM entry (both drivers register the same way). traddr '' = the DC registers the source
 * address of our connection, whose family is the DC address's family.
 */
export function dimHostEntry(
  hostnqn: string,
  hostid: string,
  symname: string | null | undefined,
  dcTraddr: string,
): DimHostEntry {
  return {
    hostnqn,
    hostId: hostIdBytes(hostid),
    entityName: os.hostname(),
    entityVersion: entityVersion(),
    symname: symname ?? null,
    trtype: 3,
    adrfam: isIPv6(dcTraddr) ? 2 : 1,
    traddr: '',
  };
}

class UserspaceLink extends EventEmitter<DcLinkEvents> implements DcLink {
  readonly device = 'nvme?';
  private dead = false;

  constructor(
    private readonly session: AdminSession,
    readonly attributes: DcAttributes,
    private readonly counters: DriverCounters,
    /** this host as it registers itself (TP8010 DIM); fixed when the association is made */
    private readonly dimHost: DimHostEntry,
  ) {
    super();
    session.on('aen', (ev) => {
      log().debug(`${session.label}: AEN 0x${ev.dw0.toString(16)} (${ev.description})`);
      if (ev.discoveryLogChange) this.emit('logChange');
    });
    session.on('close', (reason) => {
      if (this.dead) return;
      this.dead = true;
      if (isProtocolFailure(reason)) this.counters.protocolErrors++;
      this.emit('lost', reason.message);
    });
  }

  get alive(): boolean {
    return !this.dead && !this.session.closed;
  }

  async supportedLogPages(): Promise<DiscoveryLogSupport> {
    const data = await this.session.getLogPage({ lid: LogPageId.SupportedLogPages, length: 1024 });
    return discoveryLogSupport(parseSupportedLogPages(data));
  }

  async register(): Promise<void> {
    await this.session.dim(DimTask.Register, encodeDimData(this.dimHost));
  }

  async readDiscoveryLog(lsp: number, maxRecords?: number): Promise<DiscoveryLogEntry[]> {
    try {
      return (await readDiscoveryLog(this.session, { lsp, ...(maxRecords !== undefined ? { maxRecords } : {}) }))
        .entries;
    } catch (e) {
      // a log that keeps changing is no broken association: the read fails (and is retried) with its reason
      if (e instanceof DiscoveryLogUnstableError) throw e;
      if (isProtocolFailure(e) || (e instanceof NvmeTcpError && e.kind === 'protocol')) {
        // a garbled log page: the association cannot be trusted any more (and the loss says why)
        this.session.close(e as NvmeTcpError);
      }
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.dead = true;
    // a userspace association never outlives the process, whatever persistent-connections says
    await this.session.shutdown(2_000).catch(() => undefined);
  }
}

export class UserspaceDriver implements FabricsDriver {
  readonly kind = 'userspace' as const;
  private readonly stats: DriverCounters = { protocolErrors: 0 };
  private readonly links = new Set<UserspaceLink>();

  async connect(req: DcConnectRequest): Promise<DcLink> {
    const { tid } = req;
    if (tid.transport !== 'tcp') throw new Error(`the userspace driver only speaks tcp (transport ${tid.transport})`);
    // a bad host-traddr/host-iface fails this connect with its reason (HostBindingError), retried like any other
    const localAddress = localAddressFor({ hostTraddr: tid.hostTraddr, hostIface: tid.hostIface, traddr: tid.traddr });
    const hostid = connectHostId(req.hostid, req.hostnqn);
    const dhchap = resolveDhchapKeys(req.dhchapSecret, req.dhchapCtrlSecret);
    let session: AdminSession;
    try {
      session = await AdminSession.connect({
        host: tid.traddr,
        port: Number(tid.trsvcid),
        ...(localAddress ? { localAddress } : {}),
        subnqn: tid.subsysnqn,
        hostnqn: req.hostnqn,
        hostid,
        katoMs: req.katoSec * 1000,
        hdgst: req.hdrDigest,
        ddgst: req.dataDigest,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        icTimeoutMs: CONNECT_TIMEOUT_MS,
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
        label: `${tid.traddr}:${tid.trsvcid}`,
        ...(dhchap ? { dhchap } : {}),
      });
    } catch (e) {
      if (isProtocolFailure(e)) this.stats.protocolErrors++;
      throw e;
    }
    try {
      const id = await session.identifyController();
      const attributes = identifyAttributes(id, hostid, req.hostnqn);
      const dimHost = dimHostEntry(req.hostnqn, hostid, req.symname, tid.traddr);
      const link = new UserspaceLink(session, attributes, this.stats, dimHost);
      this.links.add(link);
      link.on('lost', () => this.links.delete(link));
      try {
        await session.enableAsyncEvents();
      } catch (e) {
        // without AENs the DC is still usable: the log page is read on connect, reload and reconnect
        if (!(e instanceof NvmeStatusError)) throw e;
        log().warn(
          `${tid}: the discovery controller refused async event configuration (${e.message}); log page changes will not be noticed`,
        );
      }
      return link;
    } catch (e) {
      if (isProtocolFailure(e)) this.stats.protocolErrors++;
      session.close();
      throw e;
    }
  }

  counters(): DriverCounters {
    return { ...this.stats };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.links].map((l) => l.close()));
  }
}
