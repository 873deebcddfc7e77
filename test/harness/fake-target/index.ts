// A small in-process NVMe/TCP target for edge-case unit tests of the userspace host (framing across segments,
// digests, R2T, the C2HData SUCCESS flag, timeouts, TermReq, mid-PDU closes, error statuses). The kernel nvmet
// target in the VM is the real peer; this one exists to produce the faults a real target rarely produces.
// PDUs are laid out here with plain offsets (not with the host's codec), so a codec bug cannot hide itself.
import net from 'node:net';
import { crc32c } from '../../../daemons/nvme/protocol/crc32c.js';
import { encodeDiscoveryLog, type DiscoveryLogEntryFields } from '../../../daemons/nvme/protocol/discovery-log.js';

export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

export interface FakeNamespace {
  nsid: number;
  lbaSize: number;
  blocks: number;
  uuid: string;
}

export interface FakeSubsystem {
  nqn: string;
  namespaces: FakeNamespace[];
  serial?: string;
  model?: string;
}

export type FaultAction =
  /** swallow the command: no reply ever */
  | 'never-reply'
  /** complete with the given status */
  | 'status'
  /** send the first half of the reply PDU, then close */
  | 'close-mid-pdu'
  /** reply with bytes that are no PDU */
  | 'garbage'
  /** reply with a C2HTermReq, then close */
  | 'term-req'
  /** corrupt the header digest of the reply */
  | 'bad-header-digest'
  /** corrupt the data digest of the reply's data */
  | 'bad-data-digest'
  /** C2HData for the command with a CCCID nobody used */
  | 'wrong-cid';

export interface Fault {
  opc?: number;
  fctype?: number;
  /** only on I/O (true) or admin (false) queues */
  io?: boolean;
  action: FaultAction;
  sct?: number;
  sc?: number;
  dw0?: number;
  dnr?: boolean;
  /** stays active after it fired once */
  sticky?: boolean;
}

export interface FakeTargetOptions {
  subsystems?: FakeSubsystem[];
  /** discovery log entries; default: one per subsystem at this target's address */
  discoveryEntries?: DiscoveryLogEntryFields[];
  genctr?: bigint;
  /** ICResp MAXH2CDATA */
  maxh2cdata?: number;
  cpda?: number;
  /** split each C2HData transfer in PDUs of at most this many bytes */
  c2hChunk?: number;
  /** IOCCSZ reported by NVM controllers (16-byte units) */
  ioccsz?: number;
  /** write every reply in segments of this many bytes (framing tests) */
  segmentBytes?: number;
  /** how the target answers an ICReq */
  icMode?: 'normal' | 'garbage' | 'close' | 'silent' | 'bad-pfv';
  /** enforce KATO: close an association when no Keep Alive came within KATO */
  enforceKato?: boolean;
  /** answer the fabrics Connect command this many ms late (a connect still in flight, e.g. for stafd's terminator) */
  connectDelayMs?: number;
  /** TP8010 DCTYPE reported by discovery controllers in Identify Controller: 0 none (default), 1 DDC, 2 CDC */
  dctype?: number;
  /**
   * DH-HMAC-CHAP script: Connect asks for authentication (AUTHREQ.ATR), every Authentication Send is accepted and
   * each Authentication Receive returns the next of these messages (zero-padded to its allocation length).
   */
  authMessages?: Buffer[];
  /** NUMREC the discovery log header claims, whatever the entries (a hostile DC announcing a huge log) */
  numrecOverride?: number;
  /** bump GENCTR after every discovery log read (a log that never settles) */
  genctrEveryRead?: boolean;
  /** called before each discovery log read is answered (e.g. to change the log in the middle of a fetch) */
  onLogRead?: (read: { offset: number; length: number; rae: boolean; lsp: number }, target: FakeTarget) => void;
  /** every PDU the target sends (ICResp included) passes through this first (the mutation fuzzer, see mutations.ts):
   *  it returns the bytes to send instead, and whether to close the connection after them */
  mutatePdu?: (pdu: Buffer, info: PduInfo) => { bytes: Buffer; close?: boolean };
  /** the whole discovery log page as built, before the read's offset and length cut it (NUMREC, GENCTR, entries) */
  mutateLog?: (log: Buffer) => Buffer;
}

export interface PduInfo {
  /** PDU type of the unmutated PDU (0x01 ICResp, 0x05 CapsuleResp, 0x07 C2HData, 0x09 R2T) */
  type: number;
  /** -1 before the Connect command */
  qid: number;
  discovery: boolean;
  /** how many PDUs this connection sent before this one (0: the ICResp) */
  seq: number;
}

interface Conn {
  socket: net.Socket;
  buf: Buffer;
  hdgst: boolean;
  ddgst: boolean;
  state: 'ic' | 'ready';
  qid: number;
  subsys?: FakeSubsystem;
  discovery: boolean;
  cntlid: number;
  cc: number;
  sqflowDisabled: boolean;
  aers: number[];
  /** discovery-change notices enabled (Set Features 0x0B bit 31) */
  aenEnabled: boolean;
  /** the notice fired and is masked until a RAE=0 read of LID 0x70 */
  aenMasked: boolean;
  /** a change happened while masked or without AER: fire at the next chance */
  aenPending: boolean;
  katoMs: number;
  katoTimer?: NodeJS.Timeout;
  /** the Connect command was answered with success: an association exists */
  associated: boolean;
  /** writes waiting for H2CData, by TTAG */
  r2t: Map<number, { cid: number; nsid: number; slba: number; total: number; got: number; data: Buffer }>;
  nextTtag: number;
  /** PDUs sent so far */
  sent: number;
}

export interface FakeTargetStats {
  connections: number;
  keepAlives: number;
  connects: { qid: number; subnqn: string; hostnqn: string; kato: number; cattr: number }[];
  logReads: { offset: number; length: number; rae: boolean; lsp: number }[];
  /** Supported Log Pages (LID 0x00) requests */
  supportedLogReads: number;
  /** DIM commands received, with the data decoded by plain offsets */
  dims: FakeDim[];
  commands: number;
  /** connections closed (by either side) after their Connect was answered */
  associationsClosed: number;
  /** Authentication Send payloads received (authMessages) */
  authSent: Buffer[];
  /** most connections open at the same time */
  peakConnections: number;
}

export interface FakeDim {
  tas: number;
  /** header: ENTFMT, ETYPE, EKTYPE, EID, ENAME, EVER */
  entfmt: number;
  etype: number;
  ektype: number;
  eid: string;
  ename: string;
  ever: string;
  /** first entry: TRTYPE, ADRFAM, NQN, TRADDR, host ID (hex), symbolic name */
  trtype: number;
  adrfam: number;
  nqn: string;
  traddr: string;
  hostId: string;
  symname: string | undefined;
  raw: Buffer;
}

const cstr = (b: Buffer, from: number, len: number): string => {
  const f = b.subarray(from, from + len);
  const nul = f.indexOf(0);
  return (nul < 0 ? f : f.subarray(0, nul)).toString('utf8');
};

/** Decodes the DIM data of one host entry with its own offsets (not the host's codec). */
function decodeDim(tas: number, d: Buffer): FakeDim {
  const e = 1024;
  let hostId = '';
  let symname: string | undefined;
  let x = e + 1032;
  for (let n = d.readUInt16LE(e + 1028); n > 0 && x + 4 <= d.length; n--) {
    const type = d.readUInt16LE(x);
    const len = d.readUInt16LE(x + 2);
    const val = d.subarray(x + 4, x + 4 + len);
    if (type === 1) hostId = val.toString('hex');
    if (type === 2) symname = val.toString('utf8').replace(/ +$/, '');
    x += 4 + len;
  }
  return {
    tas,
    entfmt: d.readUInt16LE(16),
    etype: d.readUInt16LE(18),
    ektype: d.readUInt16LE(22),
    eid: cstr(d, 24, 256),
    ename: cstr(d, 280, 256),
    ever: cstr(d, 536, 64),
    trtype: d[e]!,
    adrfam: d[e + 1]!,
    nqn: cstr(d, e + 256, 256),
    traddr: cstr(d, e + 512, 256),
    hostId,
    symname,
    raw: Buffer.from(d),
  };
}

const u16 = (b: Buffer, o: number): number => b.readUInt16LE(o);
const u32 = (b: Buffer, o: number): number => b.readUInt32LE(o);

export class FakeTarget {
  readonly host = '127.0.0.1';
  port = 0;
  readonly subsystems: FakeSubsystem[];
  private authReceives = 0;
  readonly stats: FakeTargetStats = {
    connections: 0,
    keepAlives: 0,
    connects: [],
    logReads: [],
    supportedLogReads: 0,
    dims: [],
    commands: 0,
    associationsClosed: 0,
    authSent: [],
    peakConnections: 0,
  };
  genctr: bigint;
  discoveryEntries: DiscoveryLogEntryFields[];
  opts: FakeTargetOptions;
  private readonly server: net.Server;
  private readonly conns = new Set<Conn>();
  private faults: Fault[] = [];
  private nextCntlid = 1;
  private readonly storage = new Map<string, Buffer>();

  private constructor(opts: FakeTargetOptions) {
    this.opts = opts;
    this.subsystems = opts.subsystems ?? [
      {
        nqn: 'nqn.2024-01.io.example:fake1',
        namespaces: [
          { nsid: 1, lbaSize: 4096, blocks: 256, uuid: '11111111-2222-4333-8444-555555555555' },
          { nsid: 2, lbaSize: 512, blocks: 2048, uuid: '66666666-7777-4888-9999-aaaaaaaaaaaa' },
        ],
      },
    ];
    this.genctr = opts.genctr ?? 1n;
    this.discoveryEntries = opts.discoveryEntries ?? [];
    this.server = net.createServer((s) => this.accept(s));
  }

  static async start(opts: FakeTargetOptions = {}): Promise<FakeTarget> {
    const t = new FakeTarget(opts);
    await new Promise<void>((resolve, reject) => {
      t.server.once('error', reject);
      t.server.listen(0, '127.0.0.1', () => resolve());
    });
    t.port = (t.server.address() as net.AddressInfo).port;
    if (!opts.discoveryEntries) {
      t.discoveryEntries = [
        { subtype: 3, subnqn: DISCOVERY_NQN, traddr: t.host, trsvcid: String(t.port), treq: 4 },
        ...t.subsystems.map((s) => ({ subtype: 2, subnqn: s.nqn, traddr: t.host, trsvcid: String(t.port), treq: 4 })),
      ];
    }
    return t;
  }

  async stop(): Promise<void> {
    for (const c of this.conns) {
      if (c.katoTimer) clearTimeout(c.katoTimer);
      c.socket.destroy();
    }
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Adds a fault; it fires on the next matching command (or on every one when sticky). */
  addFault(f: Fault): void {
    this.faults.push(f);
  }
  clearFaults(): void {
    this.faults = [];
  }

  /** Replaces the discovery entries, bumps GENCTR and notifies every discovery association (like nvmet). */
  setDiscoveryEntries(entries: DiscoveryLogEntryFields[]): void {
    this.discoveryEntries = entries;
    this.genctr++;
    for (const c of this.conns) {
      if (!c.discovery || c.qid !== 0) continue;
      c.aenPending = true;
      this.maybeFireAen(c);
    }
  }

  /** Closes every connection at once (a target going away). */
  dropAll(): void {
    for (const c of this.conns) c.socket.destroy();
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Blocks written so far, for assertions. */
  block(nsid: number, lba: number): Buffer | undefined {
    return this.storage.get(`${nsid}:${lba}`);
  }

  // ---------------------------------------------------------------------------------------------- connection

  private accept(socket: net.Socket): void {
    this.stats.connections++;
    const c: Conn = {
      socket,
      buf: Buffer.alloc(0),
      hdgst: false,
      ddgst: false,
      state: 'ic',
      qid: -1,
      discovery: false,
      cntlid: 0,
      cc: 0,
      sqflowDisabled: false,
      aers: [],
      aenEnabled: false,
      aenMasked: false,
      aenPending: false,
      katoMs: 0,
      associated: false,
      r2t: new Map(),
      nextTtag: 1,
      sent: 0,
    };
    this.conns.add(c);
    this.stats.peakConnections = Math.max(this.stats.peakConnections, this.conns.size);
    // replies are several PDUs written one by one: without this, Nagle + delayed ACK add 40 ms to each
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(c, d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (c.katoTimer) clearTimeout(c.katoTimer);
      if (c.associated) this.stats.associationsClosed++;
      this.conns.delete(c);
    });
  }

  private onData(c: Conn, d: Buffer): void {
    c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : d;
    while (c.buf.length >= 8 && !c.socket.destroyed) {
      const plen = u32(c.buf, 4);
      if (plen < 8 || plen > 64 * 1024 * 1024) {
        c.socket.destroy();
        return;
      }
      if (c.buf.length < plen) return;
      const pdu = c.buf.subarray(0, plen);
      c.buf = c.buf.subarray(plen);
      this.onPdu(c, pdu);
    }
  }

  private send(c: Conn, pdu: Buffer): void {
    if (c.socket.destroyed || c.socket.writableEnded) return;
    const m = this.opts.mutatePdu?.(pdu, { type: pdu[0]!, qid: c.qid, discovery: c.discovery, seq: c.sent++ }) ?? {
      bytes: pdu,
    };
    const bytes = m.bytes;
    const seg = this.opts.segmentBytes ?? 0;
    if (seg <= 0) c.socket.write(bytes);
    else for (let o = 0; o < bytes.length; o += seg) c.socket.write(bytes.subarray(o, o + seg));
    if (m.close) c.socket.end();
  }

  /** Builds a post-IC PDU: header (hlen bytes, fields filled by caller) + hdgst + data + ddgst. */
  private pdu(c: Conn, header: Buffer, data?: Buffer, corrupt?: 'header' | 'data'): Buffer {
    const hlen = header.length;
    const hasData = !!data && data.length > 0;
    let flags = header[1]!;
    if (c.hdgst) flags |= 0x01;
    if (c.ddgst && hasData) flags |= 0x02;
    const hd = c.hdgst ? 4 : 0;
    let pdo = 0;
    if (hasData) {
      const align = ((this.opts.cpda ?? 0) + 1) * 4;
      pdo = Math.ceil((hlen + hd) / align) * align;
    }
    const plen = hasData ? pdo + data.length + (c.ddgst ? 4 : 0) : hlen + hd;
    const out = Buffer.alloc(plen);
    header.copy(out, 0);
    out[1] = flags;
    out[2] = hlen;
    out[3] = pdo;
    out.writeUInt32LE(plen, 4);
    if (c.hdgst) out.writeUInt32LE((crc32c(out.subarray(0, hlen)) ^ (corrupt === 'header' ? 1 : 0)) >>> 0, hlen);
    if (hasData) {
      data.copy(out, pdo);
      if (c.ddgst) out.writeUInt32LE((crc32c(data) ^ (corrupt === 'data' ? 1 : 0)) >>> 0, pdo + data.length);
    }
    return out;
  }

  private respond(
    c: Conn,
    cid: number,
    opts: { dw0?: number; dw1?: number; sct?: number; sc?: number; dnr?: boolean; corrupt?: 'header' } = {},
  ): Buffer {
    const h = Buffer.alloc(24);
    h[0] = 0x05;
    h.writeUInt32LE((opts.dw0 ?? 0) >>> 0, 8);
    h.writeUInt32LE((opts.dw1 ?? 0) >>> 0, 12);
    h.writeUInt16LE(Math.max(c.qid, 0), 18);
    h.writeUInt16LE(cid, 20);
    h.writeUInt16LE(((opts.sc ?? 0) << 1) | ((opts.sct ?? 0) << 9) | (opts.dnr ? 0x8000 : 0), 22);
    return this.pdu(c, h, undefined, opts.corrupt);
  }

  private c2hData(c: Conn, cid: number, data: Buffer, corrupt?: 'header' | 'data'): Buffer[] {
    const step = this.opts.c2hChunk ?? data.length;
    const out: Buffer[] = [];
    for (let off = 0; off < data.length; off += step) {
      const n = Math.min(step, data.length - off);
      const last = off + n === data.length;
      const h = Buffer.alloc(24);
      h[0] = 0x07;
      h[1] = last ? (c.sqflowDisabled ? 0x0c : 0x04) : 0;
      h.writeUInt16LE(cid, 8);
      h.writeUInt32LE(off, 12);
      h.writeUInt32LE(n, 16);
      out.push(this.pdu(c, h, data.subarray(off, off + n), last ? corrupt : undefined));
    }
    return out;
  }

  private onPdu(c: Conn, pdu: Buffer): void {
    const type = pdu[0]!;
    if (c.state === 'ic') {
      if (type !== 0x00 || pdu.length !== 128) {
        c.socket.destroy();
        return;
      }
      const mode = this.opts.icMode ?? 'normal';
      if (mode === 'close') return void c.socket.destroy();
      if (mode === 'silent') return;
      if (mode === 'garbage')
        return void c.socket.write(Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
      const dgst = pdu[11]!;
      c.hdgst = (dgst & 1) !== 0;
      c.ddgst = (dgst & 2) !== 0;
      const r = Buffer.alloc(128);
      r[0] = 0x01;
      r[2] = 128;
      r.writeUInt32LE(128, 4);
      r.writeUInt16LE(mode === 'bad-pfv' ? 1 : 0, 8);
      r[10] = this.opts.cpda ?? 0;
      r[11] = dgst & 3;
      r.writeUInt32LE(this.opts.maxh2cdata ?? 0x400000, 12);
      c.state = 'ready';
      this.send(c, r);
      return;
    }
    const hlen = pdu[2]!;
    const pdo = pdu[3]!;
    const flags = pdu[1]!;
    // verify the host's digests like a strict target would
    if (c.hdgst) {
      if (!(flags & 1) || crc32c(pdu.subarray(0, hlen)) !== u32(pdu, hlen)) return void c.socket.destroy();
    }
    let data: Buffer = Buffer.alloc(0);
    if (pdo) {
      const end = pdu.length - (flags & 2 ? 4 : 0);
      data = pdu.subarray(pdo, end);
      if (c.ddgst && (!(flags & 2) || crc32c(data) !== u32(pdu, end))) return void c.socket.destroy();
    }
    if (type === 0x04) this.onCommand(c, pdu.subarray(8, 72), data);
    else if (type === 0x06) this.onH2CData(c, pdu, data);
    else c.socket.destroy();
  }

  private takeFault(c: Conn, opc: number, fctype: number): Fault | undefined {
    const i = this.faults.findIndex(
      (f) =>
        (f.opc === undefined || f.opc === opc) &&
        (f.fctype === undefined || (opc === 0x7f && f.fctype === fctype)) &&
        (f.io === undefined || f.io === c.qid > 0),
    );
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    if (!f.sticky) this.faults.splice(i, 1);
    return f;
  }

  private onCommand(c: Conn, sqe: Buffer, data: Buffer): void {
    this.stats.commands++;
    const opc = sqe[0]!;
    const cid = u16(sqe, 2);
    const fault = this.takeFault(c, opc, sqe[4]!);
    if (fault) {
      switch (fault.action) {
        case 'never-reply':
          return;
        case 'status':
          return this.send(
            c,
            this.respond(c, cid, { sct: fault.sct ?? 0, sc: fault.sc ?? 6, dw0: fault.dw0, dnr: fault.dnr }),
          );
        case 'close-mid-pdu': {
          const r = this.respond(c, cid);
          c.socket.write(r.subarray(0, r.length >> 1));
          c.socket.end();
          setTimeout(() => c.socket.destroy(), 20);
          return;
        }
        case 'garbage':
          return void c.socket.write(Buffer.from([0x42, 0, 0, 0, 0x10, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
        case 'term-req': {
          const t = Buffer.alloc(24 + 8);
          t[0] = 0x03;
          t[2] = 24;
          t.writeUInt32LE(t.length, 4);
          t.writeUInt16LE(0x02, 8);
          t.writeUInt32LE(0, 10);
          sqe.copy(t, 24, 0, 8);
          c.socket.write(t);
          setTimeout(() => c.socket.destroy(), 20);
          return;
        }
        case 'wrong-cid': {
          const h = Buffer.alloc(24);
          h[0] = 0x07;
          h[1] = 0x04;
          h.writeUInt16LE((cid + 1000) & 0xffff, 8);
          h.writeUInt32LE(4, 16);
          return this.send(c, this.pdu(c, h, Buffer.alloc(4)));
        }
        case 'bad-header-digest':
        case 'bad-data-digest':
          return this.execute(c, sqe, data, fault.action === 'bad-header-digest' ? 'header' : 'data');
      }
    }
    this.execute(c, sqe, data);
  }

  private transferLength(sqe: Buffer): number {
    return u32(sqe, 32);
  }

  private execute(c: Conn, sqe: Buffer, data: Buffer, corrupt?: 'header' | 'data'): void {
    const opc = sqe[0]!;
    const cid = u16(sqe, 2);
    const ok = (dw0 = 0, dw1 = 0): void =>
      this.send(c, this.respond(c, cid, { dw0, dw1, corrupt: corrupt === 'header' ? 'header' : undefined }));
    const fail = (sct: number, sc: number, dw0 = 0): void =>
      this.send(c, this.respond(c, cid, { sct, sc, dw0, dnr: true }));
    const reply = (payload: Buffer): void => {
      const want = this.transferLength(sqe);
      if (want !== payload.length) return fail(0, 0x0f); // Data SGL Length Invalid, like nvmet
      for (const p of this.c2hData(c, cid, payload, corrupt)) this.send(c, p);
      if (!c.sqflowDisabled) this.send(c, this.respond(c, cid));
    };
    if (c.qid < 0 && !(opc === 0x7f && sqe[4] === 0x01)) return void c.socket.destroy(); // command before Connect

    if (opc === 0x7f) {
      const fctype = sqe[4]!;
      if (fctype === 0x01) return this.connect(c, sqe, data, cid);
      const attrib = sqe[40]!;
      const ofst = u32(sqe, 44);
      if (fctype === 0x04) {
        let v = 0n;
        if (ofst === 0x00) v = 0x000008200f0003ffn;
        else if (ofst === 0x08) v = 0x10300n;
        else if (ofst === 0x14) v = BigInt(c.cc);
        else if (ofst === 0x1c) v = BigInt((c.cc & 1 ? 1 : 0) | ((c.cc >> 14) & 3 ? 0x8 : 0));
        else return fail(1, 0x82);
        return ok(Number(v & 0xffffffffn), attrib ? Number(v >> 32n) : 0);
      }
      if (fctype === 0x05 && this.opts.authMessages) {
        this.stats.authSent.push(Buffer.from(data));
        return ok();
      }
      if (fctype === 0x06 && this.opts.authMessages) {
        const msg = this.opts.authMessages[this.authReceives++] ?? Buffer.alloc(0);
        const out = Buffer.alloc(this.transferLength(sqe));
        msg.copy(out);
        return reply(out);
      }
      if (fctype === 0x00) {
        if (ofst !== 0x14) return fail(1, 0x82);
        c.cc = Number(sqe.readBigUInt64LE(48) & 0xffffffffn);
        return ok();
      }
      return fail(0, 0x01);
    }

    if (c.qid === 0) {
      if (!(c.cc & 1) && opc !== 0x7f) return fail(0, 0x0c); // Command Sequence Error: not enabled
      switch (opc) {
        case 0x06:
          return this.identify(c, sqe, reply, fail);
        case 0x02:
          return this.getLogPage(c, sqe, reply, fail);
        case 0x09:
          if ((u32(sqe, 40) & 0xff) === 0x0b) {
            c.aenEnabled = (u32(sqe, 44) & 0x80000000) !== 0;
            return ok(u32(sqe, 44));
          }
          // Number of Queues: grant what the host asks for (the userspace I/O connector sets it)
          if ((u32(sqe, 40) & 0xff) === 0x07) return ok(u32(sqe, 44));
          return fail(0, 0x02);
        case 0x0c:
          if (c.aers.length >= 4) return fail(1, 0x05);
          c.aers.push(cid);
          this.maybeFireAen(c);
          return;
        case 0x21: {
          // TP8010 DIM: only discovery controllers that report a DCTYPE implement it
          if (!c.discovery || !this.opts.dctype) return fail(0, 0x01);
          const len = this.transferLength(sqe);
          if (data.length !== len || len < 1024 + 1032) return fail(0, 0x0f);
          this.stats.dims.push(decodeDim(u32(sqe, 40) & 0xf, data));
          return ok();
        }
        case 0x18:
          this.stats.keepAlives++;
          this.armKato(c);
          return ok();
        default:
          return fail(0, 0x01);
      }
    }

    // I/O queue
    const ns = c.subsys?.namespaces.find((n) => n.nsid === u32(sqe, 4));
    if (!ns) return fail(0, 0x0b);
    const slba = Number(sqe.readBigUInt64LE(40));
    const nlb = (u32(sqe, 48) & 0xffff) + 1;
    if (slba + nlb > ns.blocks) return fail(0, 0x80);
    const bytes = nlb * ns.lbaSize;
    if (opc === 0x02) {
      const out = Buffer.alloc(bytes);
      for (let i = 0; i < nlb; i++) this.storage.get(`${ns.nsid}:${slba + i}`)?.copy(out, i * ns.lbaSize);
      return reply(out);
    }
    if (opc === 0x01) {
      if (this.transferLength(sqe) !== bytes) return fail(0, 0x0f);
      const sglId = sqe[39]!;
      if (sglId === 0x01) {
        if (data.length !== bytes) return fail(0, 0x0f);
        this.store(ns, slba, data);
        return ok();
      }
      // R2T for the whole transfer (MAXR2T = 0)
      const ttag = c.nextTtag++ & 0xffff;
      c.r2t.set(ttag, { cid, nsid: ns.nsid, slba, total: bytes, got: 0, data: Buffer.alloc(bytes) });
      const h = Buffer.alloc(24);
      h[0] = 0x09;
      h.writeUInt16LE(cid, 8);
      h.writeUInt16LE(ttag, 10);
      h.writeUInt32LE(0, 12);
      h.writeUInt32LE(bytes, 16);
      return this.send(c, this.pdu(c, h));
    }
    return fail(0, 0x01);
  }

  private store(ns: FakeNamespace, slba: number, data: Buffer): void {
    for (let i = 0; i * ns.lbaSize < data.length; i++) {
      this.storage.set(`${ns.nsid}:${slba + i}`, Buffer.from(data.subarray(i * ns.lbaSize, (i + 1) * ns.lbaSize)));
    }
  }

  private onH2CData(c: Conn, pdu: Buffer, data: Buffer): void {
    const cccid = u16(pdu, 8);
    const ttag = u16(pdu, 10);
    const datao = u32(pdu, 12);
    const datal = u32(pdu, 16);
    const w = c.r2t.get(ttag);
    const max = this.opts.maxh2cdata ?? 0x400000;
    if (!w || w.cid !== cccid || datal !== data.length || datao + datal > w.total || datal > max)
      return void c.socket.destroy();
    data.copy(w.data, datao);
    w.got += datal;
    if (w.got === w.total) {
      if (!(pdu[1]! & 0x04)) return void c.socket.destroy(); // last H2CData must say so
      c.r2t.delete(ttag);
      const ns = c.subsys!.namespaces.find((n) => n.nsid === w.nsid)!;
      this.store(ns, w.slba, w.data);
      this.send(c, this.respond(c, w.cid));
    }
  }

  private connect(c: Conn, sqe: Buffer, data: Buffer, cid: number): void {
    const qid = u16(sqe, 42);
    const cattr = sqe[46]!;
    const kato = u32(sqe, 48);
    if (data.length !== 1024) return this.send(c, this.respond(c, cid, { sct: 0, sc: 0x0f, dnr: true }));
    const str = (o: number): string => {
      const f = data.subarray(o, o + 256);
      const z = f.indexOf(0);
      return (z >= 0 ? f.subarray(0, z) : f).toString('utf8');
    };
    const subnqn = str(256);
    const hostnqn = str(512);
    this.stats.connects.push({ qid, subnqn, hostnqn, kato, cattr });
    const sub = this.subsystems.find((s) => s.nqn === subnqn);
    if (subnqn !== DISCOVERY_NQN && !sub) {
      // Connect Invalid Parameters, IATTR=1 (data, bit 16), IPO=256 (SUBNQN, bits 15:0), as nvmet does
      return this.send(c, this.respond(c, cid, { sct: 1, sc: 0x82, dw0: (1 << 16) | 256, dnr: true }));
    }
    const answer = (): void => {
      if (c.socket.destroyed) return;
      c.qid = qid;
      c.subsys = sub;
      c.discovery = !sub;
      c.sqflowDisabled = (cattr & 0x04) !== 0;
      if (qid === 0) {
        c.cntlid = this.nextCntlid++;
        c.katoMs = kato;
        this.armKato(c);
      } else {
        c.cntlid = u16(data, 16);
      }
      c.associated = true;
      this.send(c, this.respond(c, cid, { dw0: c.cntlid | (this.opts.authMessages ? 1 << 17 : 0) }));
    };
    const delayMs = this.opts.connectDelayMs ?? 0;
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  }

  private armKato(c: Conn): void {
    if (!this.opts.enforceKato || c.katoMs <= 0) return;
    if (c.katoTimer) clearTimeout(c.katoTimer);
    c.katoTimer = setTimeout(() => c.socket.destroy(), c.katoMs);
  }

  private identify(c: Conn, sqe: Buffer, reply: (b: Buffer) => void, fail: (sct: number, sc: number) => void): void {
    const cns = u32(sqe, 40) & 0xff;
    const nsid = u32(sqe, 4);
    const b = Buffer.alloc(4096);
    const ns = c.subsys?.namespaces.find((n) => n.nsid === nsid);
    switch (cns) {
      case 1: {
        b.writeUInt16LE(0x1b36, 0);
        b.write((c.subsys?.serial ?? 'FAKE0001').padEnd(20, ' '), 4, 20, 'latin1');
        b.write((c.subsys?.model ?? 'stas fake target').padEnd(40, ' '), 24, 40, 'latin1');
        b.write('0.1'.padEnd(8, ' '), 64, 8, 'latin1');
        b.writeUInt16LE(c.cntlid, 78);
        b.writeUInt32LE(0x10300, 80);
        b[111] = c.discovery ? 2 : 1;
        b[259] = 3;
        b.writeUInt16LE(1, 320);
        b[512] = 0x66;
        b[513] = 0x44;
        b.writeUInt32LE(c.discovery ? 0 : 1024, 516);
        b.write(c.subsys?.nqn ?? DISCOVERY_NQN, 768, 256, 'utf8');
        b.writeUInt32LE(c.discovery ? 0 : (this.opts.ioccsz ?? 1028), 1792);
        b.writeUInt32LE(1, 1796);
        if (c.discovery) b[1806] = this.opts.dctype ?? 0;
        return reply(b);
      }
      case 0:
        if (ns) {
          b.writeBigUInt64LE(BigInt(ns.blocks), 0);
          b.writeBigUInt64LE(BigInt(ns.blocks), 8);
          b.writeBigUInt64LE(BigInt(ns.blocks), 16);
          b[25] = 1; // two formats: 512 and 4096
          b[26] = ns.lbaSize === 512 ? 0 : 1;
          b.writeUInt32LE(9 << 16, 128);
          b.writeUInt32LE(12 << 16, 132);
        }
        return reply(b);
      case 2:
        (c.subsys?.namespaces ?? [])
          .filter((n) => n.nsid > nsid)
          .sort((a, z) => a.nsid - z.nsid)
          .forEach((n, i) => b.writeUInt32LE(n.nsid, i * 4));
        return reply(b);
      case 3:
        if (!ns) return fail(0, 0x0b);
        b[0] = 3;
        b[1] = 16;
        Buffer.from(ns.uuid.replace(/-/g, ''), 'hex').copy(b, 4);
        return reply(b);
      default:
        return fail(0, 0x02);
    }
  }

  private getLogPage(c: Conn, sqe: Buffer, reply: (b: Buffer) => void, fail: (sct: number, sc: number) => void): void {
    const cdw10 = u32(sqe, 40);
    const lid = cdw10 & 0xff;
    const lsp = (cdw10 >> 8) & 0x7f;
    const rae = (cdw10 & 0x8000) !== 0;
    const numd = ((cdw10 >>> 16) | ((u32(sqe, 44) & 0xffff) << 16)) + 1;
    const offset = u32(sqe, 48) + u32(sqe, 52) * 0x100000000;
    const length = numd * 4;
    if (lid === 0x70 && c.discovery) {
      this.stats.logReads.push({ offset, length, rae, lsp });
      this.opts.onLogRead?.({ offset, length, rae, lsp }, this);
      const built = this.encodedLog();
      if (this.opts.genctrEveryRead) this.genctr++;
      const log = this.opts.mutateLog ? this.opts.mutateLog(built) : built;
      const out = Buffer.alloc(length);
      if (offset < log.length) log.copy(out, 0, offset, Math.min(log.length, offset + length));
      if (!rae) {
        c.aenMasked = false;
        queueMicrotask(() => this.maybeFireAen(c));
      }
      return reply(out);
    }
    if (lid === 0x00) {
      this.stats.supportedLogReads++;
      const out = Buffer.alloc(1024);
      out.writeUInt32LE(1, 0);
      if (c.discovery) out.writeUInt32LE(0x1 | (0x2 << 16), 0x70 * 4);
      const sized = Buffer.alloc(length);
      out.copy(sized, 0, Math.min(offset, 1024));
      return reply(sized);
    }
    return fail(1, 0x09);
  }

  private encoded: { genctr: bigint; entries: DiscoveryLogEntryFields[]; numrec?: number; log: Buffer } | undefined;

  /** The log page bytes, encoded once per content (a large log is read in many chunks). */
  private encodedLog(): Buffer {
    const e = this.encoded;
    if (e && e.genctr === this.genctr && e.entries === this.discoveryEntries && e.numrec === this.opts.numrecOverride)
      return e.log;
    const log = encodeDiscoveryLog(this.genctr, this.discoveryEntries);
    if (this.opts.numrecOverride !== undefined) log.writeBigUInt64LE(BigInt(this.opts.numrecOverride), 8);
    this.encoded = { genctr: this.genctr, entries: this.discoveryEntries, numrec: this.opts.numrecOverride, log };
    return log;
  }

  private maybeFireAen(c: Conn): void {
    if (!c.aenPending || !c.aenEnabled || c.aenMasked || c.aers.length === 0 || c.socket.destroyed) return;
    const cid = c.aers.shift()!;
    c.aenPending = false;
    c.aenMasked = true;
    this.send(c, this.respond(c, cid, { dw0: 0x0070f002 }));
  }
}
