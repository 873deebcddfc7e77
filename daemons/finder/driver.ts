// How stafd talks to a discovery controller, whatever carries the connection: the kernel NVMe/TCP host
// (/dev/nvme-fabrics, sysfs, uevents) or stas's userspace NVMe/TCP host. The finder's DC state machine only
// sees this interface.
import type { EventEmitter } from 'node:events';
import type { DiscoveryLogEntry } from '../nvme/protocol/discovery-log.js';
import type { DiscoveryLogSupport } from '../nvme/protocol/log-pages.js';
import type { TID } from '../common/tid.js';
import type { DriverKind } from '../controllers/driver-kind.js';
import type { ControllerAttributes } from '../controllers/identity.js';

export type { DriverKind };

/** sysfs / Identify attributes of a DC's details dict (each '' when unknown). */
export type DcAttributes = ControllerAttributes;

export interface DcLinkEvents {
  /** a Discovery Log Page Change notice (AEN 0x70f002) */
  logChange: [];
  /** the connection was re-established underneath (kernel NVME_EVENT connected/rediscover): resync */
  resync: [];
  /** the connection is gone for good (closed, kernel removed the device); the link is dead */
  lost: [reason: string];
}

/** One live association with a discovery controller. */
export interface DcLink extends EventEmitter<DcLinkEvents> {
  /** kernel device name (`nvme3`), or `nvme?` when the connection has no kernel device */
  readonly device: string;
  readonly attributes: DcAttributes;
  /** whether the link is still usable */
  readonly alive: boolean;
  /** Supported Log Pages (LID 0x00), LID 0x70 bits */
  supportedLogPages(): Promise<DiscoveryLogSupport>;
  /**
   * the whole discovery log page (consistent GENCTR, last read with RAE=0); a log of more than `maxRecords` entries
   * is refused from its header with DiscoveryLogTooLargeError
   */
  readDiscoveryLog(lsp: number, maxRecords?: number): Promise<DiscoveryLogEntry[]>;
  /**
   * TP8010 DIM register of this host (only called when dctype is ddc/cdc). Rejects with NvmeStatusError when the DC
   * answers with a status, with any other error when the command could not be carried out. Absent: not supported.
   */
  register?(): Promise<void>;
  /** ends the association; `keepConnection` leaves a kernel connection in place (persistent-connections) */
  close(keepConnection: boolean): Promise<void>;
}

/** Connect parameters of one DC, already resolved (per-controller override > [Global] > default). */
export interface DcConnectRequest {
  tid: TID;
  hostnqn: string;
  hostid: string;
  /** sys.conf symbolic name (TP8010 DIM), null when none */
  symname?: string | null;
  /** keep-alive timeout, seconds; 0 = none */
  katoSec: number;
  hdrDigest: boolean;
  dataDigest: boolean;
  /** kernel option name → value, for the kernel driver (keep_alive_tmo, ctrl_loss_tmo, ...) */
  kernelOptions: ReadonlyMap<string, number | boolean | string>;
  /** dhchap secrets from the config bag (never logged) */
  dhchapSecret?: string;
  dhchapCtrlSecret?: string;
}

/** Counters of bad input seen by a driver (process_info). */
export interface DriverCounters {
  /** connections that broke the protocol: garbage PDUs, closes mid-PDU, term-reqs, bad digests */
  protocolErrors: number;
}

export interface FabricsDriver {
  readonly kind: DriverKind;
  /** connects (or adopts an existing kernel connection); rejects with an Error whose message says why */
  connect(req: DcConnectRequest): Promise<DcLink>;
  counters(): DriverCounters;
  /** driver-wide set-up at daemon start (the kernel driver: uevents, nvme-cli coexistence); never throws */
  start?(): Promise<void>;
  stop(): Promise<void>;
}
