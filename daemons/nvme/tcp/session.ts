// An admin queue session with one controller (discovery or NVM): Connect, CC.EN + CSTS.RDY, Identify, Get Log
// Page, keep-alive at KATO/2, AER arming and re-arming ('aen' events), and a clean CC.SHN shutdown.
import { EventEmitter } from 'node:events';
import {
  AEC_DISCOVERY_LOG_CHANGE,
  CC_ENABLE,
  CC_SHN_NORMAL,
  CSTS_CFS,
  CSTS_RDY,
  CSTS_SHST_COMPLETE,
  CSTS_SHST_MASK,
  FeatureId,
  Register,
} from '../protocol/constants.js';
import {
  activeNamespaceListCommand,
  asyncEventRequestCommand,
  connectCommand,
  getLogPageCommand,
  identifyControllerCommand,
  identifyNamespaceCommand,
  keepAliveCommand,
  namespaceDescriptorsCommand,
  propertyGetCommand,
  propertySetCommand,
  setFeaturesCommand,
  type GetLogPageFields,
  type NvmeCommand,
} from '../protocol/commands.js';
import {
  parseActiveNamespaceList,
  parseIdentifyController,
  parseIdentifyNamespace,
  parseNamespaceDescriptors,
  type IdentifyController,
  type IdentifyNamespace,
  type NamespaceDescriptor,
} from '../protocol/identify.js';
import { decodeAsyncEvent, type AsyncEvent } from '../protocol/log-pages.js';
import { ProtocolError } from '../protocol/errors.js';
import { dimCommand, type DimTaskCode } from '../protocol/dim.js';
import { NvmeStatusError, NvmeTcpError, TimeoutError, TransportProtocolError } from './errors.js';
import { NvmeTcpQueue, type CommandResult, type QueueOptions, type SubmitOptions } from './queue.js';
import { authenticateIfRequired, type AuthOutcome, type DhchapKeys } from './auth.js';

export interface HostIdentity {
  hostnqn: string;
  /** UUID string (with or without dashes) */
  hostid: string;
}

export interface SessionOptions extends QueueOptions, HostIdentity {
  subnqn: string;
  /** keep-alive timeout sent in Connect, ms; 0 = none (nvmet then gives discovery controllers 120 s) */
  katoMs?: number;
  /** keep-alive period; default KATO/2 */
  keepAliveIntervalMs?: number;
  /** CATTR bit 2 in Connect: the target may then complete reads with C2HData SUCCESS and no CapsuleResp */
  disableSqFlow?: boolean;
  /** bound on CSTS.RDY after CC.EN=1; default CAP.TO (500 ms units), capped to 30 s */
  readyTimeoutMs?: number;
  /** 0's based admin SQ size; default 31 */
  sqsize?: number;
  /** DH-HMAC-CHAP secrets, used on every queue whose Connect asks for authentication */
  dhchap?: DhchapKeys;
}

export interface SessionEvents {
  aen: [event: AsyncEvent];
  close: [reason: NvmeTcpError];
}

export interface NamespaceInfo {
  nsid: number;
  lbaSize: number;
  blocks: bigint;
  sizeBytes: bigint;
  uuid?: string;
  nguid?: string;
  eui64?: string;
  identify: IdentifyNamespace;
  descriptors: NamespaceDescriptor[];
}

export function hostIdBytes(hostid: string): Buffer {
  const hexs = hostid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hexs)) throw new NvmeTcpError('usage', `host ID "${hostid}" is not a UUID`);
  return Buffer.from(hexs, 'hex');
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class AdminSession extends EventEmitter<SessionEvents> {
  readonly queue: NvmeTcpQueue;
  readonly options: SessionOptions;
  /** controller ID assigned by Connect */
  cntlid = 0;
  /** how the admin queue authenticated (undefined: the controller did not ask) */
  auth: AuthOutcome | undefined;
  cap = 0n;
  vs = 0;
  /** Keep Alive commands completed (tests and diagnostics) */
  keepAlivesSent = 0;
  /** AERs completed */
  aenCount = 0;
  private kaTimer: NodeJS.Timeout | undefined;
  private aerArmed = false;
  private wantAer = false;
  private closing = false;

  private constructor(queue: NvmeTcpQueue, opts: SessionOptions) {
    super();
    this.queue = queue;
    this.options = opts;
    queue.on('close', (reason) => {
      this.stopKeepAlive();
      this.aerArmed = false;
      this.emit('close', reason);
    });
  }

  /** TCP + ICReq, Connect (admin queue), enable the controller. The session keeps itself alive when KATO > 0. */
  static async connect(opts: SessionOptions): Promise<AdminSession> {
    const hostId = hostIdBytes(opts.hostid);
    const queue = await NvmeTcpQueue.open(opts);
    const s = new AdminSession(queue, opts);
    // the 'close' event would be emitted before anyone listens; the caller sees the rejection instead
    try {
      const r = await queue.submit(
        connectCommand({
          qid: 0,
          sqsize: opts.sqsize ?? 31,
          katoMs: opts.katoMs ?? 0,
          disableSqFlow: opts.disableSqFlow,
          hostId,
          cntlid: 0xffff,
          subnqn: opts.subnqn,
          hostnqn: opts.hostnqn,
        }),
      );
      s.cntlid = r.cqe.dw0 & 0xffff;
      s.auth = await authenticateIfRequired(queue, r.cqe.dw0, {
        qid: 0,
        hostnqn: opts.hostnqn,
        subnqn: opts.subnqn,
        keys: opts.dhchap,
      });
      await s.enable();
      s.startKeepAlive();
      return s;
    } catch (e) {
      queue.close();
      throw e;
    }
  }

  get closed(): boolean {
    return this.queue.closed;
  }
  get label(): string {
    return this.queue.label;
  }

  submit(cmd: NvmeCommand, opts?: SubmitOptions): Promise<CommandResult> {
    return this.queue.submit(cmd, opts);
  }

  async propertyGet(offset: number, size: 4 | 8 = 4): Promise<bigint> {
    const r = await this.submit(propertyGetCommand(offset, size));
    return size === 8 ? (BigInt(r.cqe.dw1) << 32n) | BigInt(r.cqe.dw0) : BigInt(r.cqe.dw0);
  }

  async propertySet(offset: number, value: number | bigint, size: 4 | 8 = 4): Promise<void> {
    await this.submit(propertySetCommand(offset, value, size));
  }

  private async enable(): Promise<void> {
    this.cap = await this.propertyGet(Register.CAP, 8);
    this.vs = Number(await this.propertyGet(Register.VS));
    await this.propertySet(Register.CC, CC_ENABLE);
    const capTo = Number((this.cap >> 24n) & 0xffn) * 500;
    const bound = this.options.readyTimeoutMs ?? Math.min(Math.max(capTo, 1000), 30_000);
    const t0 = Date.now();
    let wait = 5;
    for (;;) {
      const csts = Number(await this.propertyGet(Register.CSTS));
      if (csts & CSTS_CFS)
        throw new TransportProtocolError(
          this.label,
          `controller fatal status (CSTS=0x${csts.toString(16)}) after CC=0x${CC_ENABLE.toString(16)}`,
        );
      if (csts & CSTS_RDY) return;
      if (Date.now() - t0 > bound) throw new TimeoutError(`${this.label}: waiting for CSTS.RDY`, bound);
      await delay(wait);
      wait = Math.min(wait * 2, 100);
    }
  }

  // ---------------------------------------------------------------------------------------------- admin commands

  async identifyController(): Promise<IdentifyController> {
    return parseIdentifyController((await this.submit(identifyControllerCommand())).data);
  }

  async identifyNamespace(nsid: number): Promise<IdentifyNamespace> {
    return parseIdentifyNamespace((await this.submit(identifyNamespaceCommand(nsid))).data);
  }

  async activeNamespaces(): Promise<number[]> {
    return parseActiveNamespaceList((await this.submit(activeNamespaceListCommand(0))).data);
  }

  async namespaceDescriptors(nsid: number): Promise<NamespaceDescriptor[]> {
    return parseNamespaceDescriptors((await this.submit(namespaceDescriptorsCommand(nsid))).data);
  }

  /** Identify Namespace + descriptors, with the LBA size from LBAF[FLBAS]. */
  async namespaceInfo(nsid: number): Promise<NamespaceInfo> {
    const id = await this.identifyNamespace(nsid);
    let descriptors: NamespaceDescriptor[] = [];
    try {
      descriptors = await this.namespaceDescriptors(nsid);
    } catch (e) {
      // CNS 03h is optional before NVMe 1.3; a status error just means "no descriptors"
      if (!(e instanceof NvmeStatusError)) throw e;
    }
    const find = (t: number): string | undefined => descriptors.find((d) => d.type === t)?.value;
    const zero = (h: string): boolean => /^0*$/.test(h);
    return {
      nsid,
      lbaSize: id.lbaSize,
      blocks: id.nsze,
      sizeBytes: id.sizeBytes,
      uuid: find(3),
      nguid: find(2) ?? (zero(id.nguid) ? undefined : id.nguid),
      eui64: find(1) ?? (zero(id.eui64) ? undefined : id.eui64),
      identify: id,
      descriptors,
    };
  }

  async getLogPage(f: GetLogPageFields, opts?: SubmitOptions): Promise<Buffer> {
    return (await this.submit(getLogPageCommand(f), opts)).data;
  }

  /** Returns the completion's DW0. */
  async setFeatures(fid: number, value: number): Promise<number> {
    return (await this.submit(setFeaturesCommand(fid, value))).cqe.dw0;
  }
  /**
   * Set Features Number of Queues: asks for `wanted` I/O queues (submission and completion alike) and returns how
   * many the controller grants (it may grant fewer, or more than asked; the host uses at most what it asked for).
   */
  async requestIoQueues(wanted: number): Promise<number> {
    const n = Math.max(1, Math.min(65535, Math.floor(wanted))) - 1; // 0's based
    const dw0 = await this.setFeatures(FeatureId.NumberOfQueues, (n << 16) | n);
    return Math.min(dw0 & 0xffff, dw0 >>> 16) + 1;
  }

  /**
   * TP8010 Discovery Information Management: `data` is the DIM data (encodeDimData). Returns the completion's DW0;
   * a non-success status rejects with NvmeStatusError.
   */
  async dim(tas: DimTaskCode, data: Buffer, opts?: SubmitOptions): Promise<number> {
    return (await this.submit(dimCommand(tas, data), opts)).cqe.dw0;
  }

  async keepAlive(): Promise<void> {
    await this.submit(keepAliveCommand());
    this.keepAlivesSent++;
  }

  /**
   * Enables the given async event notices (default: Discovery Log Page Change) and keeps one AER outstanding;
   * each completion emits 'aen' and is re-armed. For discovery changes the notice stays masked until the log
   * page is read with RAE=0 (readDiscoveryLog's final read does that).
   */
  async enableAsyncEvents(config: number = AEC_DISCOVERY_LOG_CHANGE): Promise<void> {
    await this.setFeatures(FeatureId.AsyncEventConfig, config);
    this.wantAer = true;
    this.armAer();
  }

  private armAer(): void {
    if (this.aerArmed || !this.wantAer || this.closed || this.closing) return;
    this.aerArmed = true;
    this.submit(asyncEventRequestCommand(), { timeoutMs: 0 }).then(
      (r) => {
        this.aerArmed = false;
        this.aenCount++;
        this.armAer();
        this.emit('aen', decodeAsyncEvent(r.cqe.dw0));
      },
      (e: unknown) => {
        this.aerArmed = false;
        // a status (e.g. AER limit exceeded) stops re-arming; a closed queue is reported by 'close'
        if (e instanceof NvmeStatusError) this.wantAer = false;
      },
    );
  }

  private startKeepAlive(): void {
    const kato = this.options.katoMs ?? 0;
    const every = this.options.keepAliveIntervalMs ?? (kato > 0 ? Math.max(Math.floor(kato / 2), 100) : 0);
    if (every <= 0) return;
    this.kaTimer = setInterval(() => {
      // a Keep Alive must complete well within KATO; otherwise the association is as good as dead
      this.submit(keepAliveCommand(), { timeoutMs: Math.max(every, 1000) }).then(
        () => {
          this.keepAlivesSent++;
        },
        (e: unknown) => {
          if (this.closed) return;
          const reason = e instanceof NvmeTcpError ? e : new TransportProtocolError(this.label, String(e));
          this.queue.close(new NvmeTcpError(reason.kind, `${this.label}: keep-alive failed: ${reason.message}`));
        },
      );
    }, every);
  }

  private stopKeepAlive(): void {
    if (this.kaTimer) clearInterval(this.kaTimer);
    this.kaTimer = undefined;
  }

  /**
   * Clean shutdown: CC.SHN = normal, wait (bounded) for CSTS.SHST = complete, then close the connection.
   * Errors during the handshake still close the connection; the returned flag says whether SHST completed.
   */
  async shutdown(timeoutMs = 5000): Promise<boolean> {
    if (this.closed) return false;
    this.closing = true;
    this.stopKeepAlive();
    let done = false;
    try {
      await this.propertySet(Register.CC, CC_ENABLE | CC_SHN_NORMAL);
      const t0 = Date.now();
      let wait = 5;
      while (Date.now() - t0 < timeoutMs) {
        const csts = Number(await this.propertyGet(Register.CSTS));
        if ((csts & CSTS_SHST_MASK) === CSTS_SHST_COMPLETE) {
          done = true;
          break;
        }
        await delay(wait);
        wait = Math.min(wait * 2, 100);
      }
    } catch (e) {
      if (!(e instanceof NvmeTcpError) && !(e instanceof ProtocolError)) throw e;
    } finally {
      this.queue.close();
    }
    return done;
  }

  /** Closes the connection at once (no shutdown handshake); `reason` becomes the 'close' event's reason. */
  close(reason?: NvmeTcpError): void {
    this.closing = true;
    this.stopKeepAlive();
    this.queue.close(reason);
  }
}
