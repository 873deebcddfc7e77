// One NVMe/TCP connection = one NVMe queue pair. Frames PDUs out of the TCP byte stream (one growable receive
// buffer, PDUs parsed in place as subarrays), allocates CIDs, moves data in-capsule, by R2T/H2CData, or by
// C2HData (with or without the SUCCESS flag), checks digests, and fails every pending command with one typed
// error when the connection dies.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { SglId } from '../protocol/constants.js';
import type { NvmeCommand } from '../protocol/commands.js';
import { DigestError, ProtocolError } from '../protocol/errors.js';
import {
  DEFAULT_MAX_PLEN,
  TermReqFes,
  decodePdu,
  encodeCapsuleCmd,
  encodeH2CData,
  encodeIcReq,
  encodeTermReq,
  pduLength,
  type DataPdu,
  type PduOptions,
  type R2TPdu,
} from '../protocol/pdu.js';
import { decodeCqe, setSgl1, type Cqe } from '../protocol/sqe.js';
import {
  ConnectFailedError,
  ConnectionClosedError,
  NotNvmePeerError,
  NvmeStatusError,
  NvmeTcpError,
  TermReqError,
  TimeoutError,
  TransportProtocolError,
} from './errors.js';

export interface QueueOptions {
  host: string;
  port: number;
  /** connect from this local address (host-traddr / host-iface, see host-binding.ts) */
  localAddress?: string;
  /** ask for header / data digests (CRC32C) */
  hdgst?: boolean;
  ddgst?: boolean;
  /** TCP connect bound */
  connectTimeoutMs?: number;
  /** bound on the ICResp after the ICReq */
  icTimeoutMs?: number;
  /** default per-command bound; 0 = none */
  commandTimeoutMs?: number;
  /** largest PDU accepted from the peer */
  maxPlen?: number;
  /** largest write sent in-capsule; larger writes go through R2T/H2CData */
  inlineDataLimit?: number;
  /** most commands in flight at once */
  maxOutstanding?: number;
  /** name used in error messages; default "host:port" */
  label?: string;
}

export interface CommandResult {
  cqe: Cqe;
  /** the data read (readLength bytes), or an empty buffer */
  data: Buffer;
}

export interface SubmitOptions {
  /** overrides the queue's commandTimeoutMs; 0 = wait forever (AER) */
  timeoutMs?: number;
}

interface Pending {
  cid: number;
  cmd: NvmeCommand;
  resolve: (r: CommandResult) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  readBuf?: Buffer;
  received: number;
  /** timed out: the CID stays reserved until the late completion arrives, whose data is then dropped */
  abandoned: boolean;
}

export interface QueueEvents {
  close: [reason: NvmeTcpError];
}

const EMPTY = Buffer.alloc(0);

/** Admin-queue default: nvmet accepts 8 KiB in-capsule there; Connect needs 1 KiB. */
export const ADMIN_INLINE_DATA_LIMIT = 8192;

export class NvmeTcpQueue extends EventEmitter<QueueEvents> {
  readonly label: string;
  /** what ICResp granted */
  hdgst = false;
  ddgst = false;
  cpda = 0;
  maxh2cdata = 0;
  inlineDataLimit: number;
  commandTimeoutMs: number;
  /** which data paths were taken (diagnostics, and tests that must prove a path was exercised) */
  readonly stats = { pdus: 0, inCapsuleWrites: 0, r2ts: 0, h2cDataPdus: 0, c2hDataPdus: 0, c2hSuccess: 0 };

  private readonly socket: net.Socket;
  private readonly maxPlen: number;
  private readonly maxOutstanding: number;
  private rx: Buffer = Buffer.allocUnsafe(64 * 1024);
  private rxStart = 0;
  private rxEnd = 0;
  private state: 'ic' | 'ready' | 'closed' = 'ic';
  private pending = new Map<number, Pending>();
  private nextCid = 0;
  private closeReasonValue: NvmeTcpError | undefined;
  private icWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private bytesReceived = 0;
  private lastSocketError: NodeJS.ErrnoException | undefined;

  private constructor(socket: net.Socket, opts: QueueOptions) {
    super();
    this.socket = socket;
    this.label = opts.label ?? `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
    this.maxPlen = opts.maxPlen ?? DEFAULT_MAX_PLEN;
    this.inlineDataLimit = opts.inlineDataLimit ?? ADMIN_INLINE_DATA_LIMIT;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 10_000;
    this.maxOutstanding = opts.maxOutstanding ?? 128;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // 'close' follows; remember why
      this.lastSocketError = err;
    });
    socket.on('close', () => this.onSocketClose());
  }

  /** TCP connect, ICReq/ICResp. Rejects with ConnectFailedError, NotNvmePeerError or TimeoutError. */
  static async open(opts: QueueOptions): Promise<NvmeTcpQueue> {
    const socket = await tcpConnect(opts);
    const q = new NvmeTcpQueue(socket, opts);
    await q.initialize(!!opts.hdgst, !!opts.ddgst, opts.icTimeoutMs ?? 5000);
    return q;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }
  get closeReason(): NvmeTcpError | undefined {
    return this.closeReasonValue;
  }
  get outstanding(): number {
    return this.pending.size;
  }
  get pduOptions(): PduOptions {
    return { hdgst: this.hdgst, ddgst: this.ddgst, pda: this.cpda };
  }

  private initialize(hdgst: boolean, ddgst: boolean, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new TimeoutError(`${this.label}: waiting for ICResp (not an NVMe/TCP target?)`, timeoutMs));
      }, timeoutMs);
      this.icWaiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.write(encodeIcReq({ hdgst, ddgst }));
    });
  }

  /**
   * Sends a command and resolves with its completion (and read data). Rejects with NvmeStatusError for an
   * error status, TimeoutError after the bound, or the connection's close reason.
   */
  submit(cmd: NvmeCommand, opts: SubmitOptions = {}): Promise<CommandResult> {
    return new Promise<CommandResult>((resolve, reject) => {
      if (this.state !== 'ready') {
        reject(this.closeReasonValue ?? new ConnectionClosedError(`${this.label}: queue is not ready`));
        return;
      }
      if (this.pending.size >= this.maxOutstanding) {
        reject(
          new NvmeTcpError(
            'usage',
            `${this.label}: ${this.pending.size} commands outstanding, limit ${this.maxOutstanding}`,
          ),
        );
        return;
      }
      const cid = this.allocCid();
      const p: Pending = { cid, cmd, resolve, reject, received: 0, abandoned: false };
      const sqe = Buffer.from(cmd.sqe); // the caller's SQE stays reusable
      sqe.writeUInt16LE(cid, 2);
      let inCapsule: Buffer | undefined;
      if (cmd.write && cmd.write.length > 0) {
        if (cmd.write.length <= this.inlineDataLimit) {
          setSgl1(sqe, SglId.InCapsule, cmd.write.length);
          inCapsule = cmd.write;
          this.stats.inCapsuleWrites++;
        } else {
          setSgl1(sqe, SglId.Transport, cmd.write.length);
        }
      } else {
        const len = cmd.readLength ?? 0;
        setSgl1(sqe, SglId.Transport, len);
        if (len > 0) p.readBuf = Buffer.alloc(len);
      }
      const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
      if (timeoutMs > 0) {
        p.timer = setTimeout(() => {
          p.abandoned = true;
          p.timer = undefined;
          reject(new TimeoutError(`${this.label}: ${cmd.name}`, timeoutMs));
        }, timeoutMs);
      }
      this.pending.set(cid, p);
      this.sendSegments(encodeCapsuleCmd(sqe, inCapsule, this.pduOptions));
    });
  }

  /** Closes the connection; pending commands are rejected with a "closed by host" error. */
  close(reason?: NvmeTcpError): void {
    this.fail(reason ?? new ConnectionClosedError(`${this.label}: connection closed by host`, true));
  }

  // ---------------------------------------------------------------------------------------------- internals

  private allocCid(): number {
    for (;;) {
      this.nextCid = (this.nextCid + 1) & 0xffff;
      if (!this.pending.has(this.nextCid)) return this.nextCid;
    }
  }

  private sendSegments(segs: Buffer[]): void {
    if (segs.length === 1) {
      this.socket.write(segs[0]!);
      return;
    }
    this.socket.cork();
    for (const s of segs) this.socket.write(s);
    process.nextTick(() => this.socket.uncork());
  }

  private onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    if (this.state === 'closed') return;
    if (this.rxStart === this.rxEnd) {
      // nothing buffered: parse straight from the chunk, keep only the incomplete tail
      this.rxStart = this.rxEnd = 0;
      const used = this.parse(chunk);
      if (used < chunk.length && !this.closed) this.stash(chunk.subarray(used));
      return;
    }
    this.stash(chunk);
    const used = this.parse(this.rx.subarray(this.rxStart, this.rxEnd));
    this.rxStart += used;
    if (this.rxStart === this.rxEnd) this.rxStart = this.rxEnd = 0;
  }

  private stash(bytes: Buffer): void {
    const have = this.rxEnd - this.rxStart;
    if (this.rxEnd + bytes.length > this.rx.length) {
      if (have + bytes.length <= this.rx.length) {
        this.rx.copy(this.rx, 0, this.rxStart, this.rxEnd);
      } else {
        const bigger = Buffer.allocUnsafe(Math.max(this.rx.length * 2, have + bytes.length));
        this.rx.copy(bigger, 0, this.rxStart, this.rxEnd);
        this.rx = bigger;
      }
      this.rxStart = 0;
      this.rxEnd = have;
    }
    bytes.copy(this.rx, this.rxEnd);
    this.rxEnd += bytes.length;
  }

  /** Handles every complete PDU in buf; returns the bytes consumed. */
  private parse(buf: Buffer): number {
    let off = 0;
    while (this.state !== 'closed') {
      let len: number;
      try {
        len = pduLength(buf, off, this.maxPlen);
      } catch (e) {
        this.protocolFailure(e, buf.subarray(off, off + 8));
        return off;
      }
      if (len < 0 || buf.length - off < len) break;
      const pdu = buf.subarray(off, off + len);
      off += len;
      try {
        this.handlePdu(pdu);
      } catch (e) {
        this.protocolFailure(e, pdu.subarray(0, 24));
        return off;
      }
    }
    return off;
  }

  private protocolFailure(e: unknown, offending: Buffer): void {
    if (!(e instanceof ProtocolError)) {
      this.fail(new TransportProtocolError(this.label, e instanceof Error ? e.message : String(e), e));
      return;
    }
    if (this.state === 'ic') {
      this.fail(
        new NotNvmePeerError(this.label, `bad reply to ICReq: ${e.message} (first bytes: ${printable(offending)})`),
      );
      return;
    }
    // tell the controller why we give up (best effort), then close
    const fes = e instanceof DigestError && e.kind === 'header' ? 0x03 : 0x01;
    try {
      this.socket.write(encodeTermReq('H2C', fes, 0, offending));
    } catch {
      /* the socket may already be gone */
    }
    this.fail(new TransportProtocolError(this.label, e.message, e));
  }

  private handlePdu(raw: Buffer): void {
    if (this.state === 'ic') {
      const pdu = decodePdu(raw);
      if (pdu.kind !== 'ICResp') throw new ProtocolError(`expected ICResp, got ${pdu.kind}`);
      if (pdu.pfv !== 0) throw new ProtocolError(`ICResp PFV ${pdu.pfv} (only 0 is supported)`);
      if (pdu.cpda > 31) throw new ProtocolError(`ICResp CPDA ${pdu.cpda} > 31`);
      if (pdu.maxh2cdata < 4096 || pdu.maxh2cdata % 4 !== 0)
        throw new ProtocolError(`ICResp MAXH2CDATA ${pdu.maxh2cdata} (must be ≥ 4096, a multiple of 4)`);
      this.hdgst = pdu.hdgst;
      this.ddgst = pdu.ddgst;
      this.cpda = pdu.cpda;
      this.maxh2cdata = pdu.maxh2cdata;
      this.state = 'ready';
      const w = this.icWaiter;
      this.icWaiter = undefined;
      w?.resolve();
      return;
    }
    const pdu = decodePdu(raw, { hdgst: this.hdgst, ddgst: this.ddgst });
    this.stats.pdus++;
    switch (pdu.kind) {
      case 'CapsuleResp':
        this.onCompletion(decodeCqe(pdu.cqe));
        return;
      case 'C2HData':
        this.onC2HData(pdu);
        return;
      case 'R2T':
        this.onR2T(pdu);
        return;
      case 'C2HTermReq':
        this.fail(
          new TermReqError(this.label, pdu.fes, pdu.fei, TermReqFes[pdu.fes] ?? `FES 0x${pdu.fes.toString(16)}`),
        );
        return;
      default:
        throw new ProtocolError(`unexpected ${pdu.kind} PDU from a controller`);
    }
  }

  private pendingFor(cid: number, what: string): Pending {
    const p = this.pending.get(cid);
    if (!p) throw new ProtocolError(`${what} for CID ${cid}, which has no command outstanding`);
    return p;
  }

  private onCompletion(cqe: Cqe): void {
    const p = this.pendingFor(cqe.cid, 'CapsuleResp');
    this.finish(p);
    if (p.abandoned) return;
    if (!cqe.ok) {
      p.reject(new NvmeStatusError(`${this.label}: ${p.cmd.name}`, cqe, !!p.cmd.fabrics));
      return;
    }
    p.resolve({ cqe, data: p.readBuf ?? EMPTY });
  }

  private onC2HData(pdu: DataPdu): void {
    const p = this.pendingFor(pdu.cccid, 'C2HData');
    if (!p.readBuf) throw new ProtocolError(`C2HData for CID ${pdu.cccid} (${p.cmd.name}), which reads no data`);
    if (pdu.datao + pdu.datal > p.readBuf.length) {
      throw new ProtocolError(
        `C2HData DATAO ${pdu.datao} + DATAL ${pdu.datal} exceeds the ${p.readBuf.length} bytes of ${p.cmd.name}`,
      );
    }
    if (!p.abandoned) pdu.data.copy(p.readBuf, pdu.datao);
    p.received += pdu.datal;
    this.stats.c2hDataPdus++;
    if (pdu.success) {
      this.stats.c2hSuccess++;
      // SQ flow control disabled: the last C2HData stands in for a successful CapsuleResp
      this.finish(p);
      if (p.abandoned) return;
      const cqe: Cqe = {
        dw0: 0,
        dw1: 0,
        sqhd: 0,
        sqid: 0,
        cid: p.cid,
        status: 0,
        sct: 0,
        sc: 0,
        crd: 0,
        more: false,
        dnr: false,
        ok: true,
      };
      p.resolve({ cqe, data: p.readBuf });
    }
  }

  private onR2T(r: R2TPdu): void {
    const p = this.pendingFor(r.cccid, 'R2T');
    const data = p.cmd.write;
    if (!data) throw new ProtocolError(`R2T for CID ${r.cccid} (${p.cmd.name}), which writes no data`);
    if (r.r2tl === 0 || r.r2to + r.r2tl > data.length) {
      throw new ProtocolError(`R2T R2TO ${r.r2to} + R2TL ${r.r2tl} outside the ${data.length} bytes of ${p.cmd.name}`);
    }
    const end = r.r2to + r.r2tl;
    const step = this.maxh2cdata || r.r2tl;
    const opts = this.pduOptions;
    this.stats.r2ts++;
    this.socket.cork();
    for (let off = r.r2to; off < end; off += step) {
      const n = Math.min(step, end - off);
      this.stats.h2cDataPdus++;
      for (const seg of encodeH2CData(
        { cccid: r.cccid, ttag: r.ttag, datao: off, last: off + n === end },
        data.subarray(off, off + n),
        opts,
      )) {
        this.socket.write(seg);
      }
    }
    process.nextTick(() => this.socket.uncork());
  }

  private finish(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    this.pending.delete(p.cid);
  }

  private onSocketClose(): void {
    if (this.state === 'closed') return;
    const buffered = this.rxEnd - this.rxStart;
    const err = this.lastSocketError;
    if (this.state === 'ic') {
      const why = err?.code === 'ECONNRESET' ? 'connection reset' : 'connection closed';
      this.fail(new NotNvmePeerError(this.label, `${why} before ICResp (${this.bytesReceived} bytes received)`));
      return;
    }
    const how = err?.code === 'ECONNRESET' ? 'reset' : 'closed';
    const mid = buffered > 0 ? ` in the middle of a PDU (${buffered} bytes of it received)` : '';
    const n = this.pending.size;
    this.fail(
      new ConnectionClosedError(
        `${this.label}: connection ${how} by the target${mid}${n ? `; ${n} command(s) failed` : ''}`,
      ),
    );
  }

  private fail(reason: NvmeTcpError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReasonValue = reason;
    const w = this.icWaiter;
    this.icWaiter = undefined;
    w?.reject(reason);
    const pend = [...this.pending.values()];
    this.pending.clear();
    for (const p of pend) {
      if (p.timer) clearTimeout(p.timer);
      if (!p.abandoned) p.reject(reason);
    }
    this.rx = EMPTY;
    this.rxStart = this.rxEnd = 0;
    this.socket.destroy();
    this.emit('close', reason);
  }
}

function printable(b: Buffer): string {
  const hexs = b.toString('hex').replace(/(..)/g, '$1 ').trim();
  const ascii = b.toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `${hexs} "${ascii}"`;
}

const UNREACHABLE_CODES = new Set([
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ENETDOWN',
]);

function tcpConnect(opts: QueueOptions): Promise<net.Socket> {
  const target = opts.label ?? `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  const timeoutMs = opts.connectTimeoutMs ?? 5000;
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({
      host: opts.host,
      port: opts.port,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectFailedError('unreachable', target, 'CONNECT_TIMEOUT'));
    }, timeoutMs);
    const onError = (err: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      const code = err.code ?? 'EUNKNOWN';
      if (code === 'ECONNREFUSED') reject(new ConnectFailedError('refused', target, code, err));
      else if (UNREACHABLE_CODES.has(code)) reject(new ConnectFailedError('unreachable', target, code, err));
      else reject(new ConnectFailedError('unreachable', target, code, err));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}
