// NVMe/TCP PDU framing: encoders return the bytes to send (as segments, so large payloads are never copied),
// decoders take one complete PDU (found with pduLength) and return a typed view whose data is a subarray.
import { crc32c } from './crc32c.js';
import { CH_LEN, CQE_LEN, DIGEST_LEN, PDU_HLEN, PDU_TYPE_NAMES, PduFlag, PduType, SQE_LEN } from './constants.js';
import { DigestError, EncodeError, MalformedError, TruncatedError, need } from './errors.js';

/** Digests and alignment negotiated by ICReq/ICResp, used for every later PDU. */
export interface PduOptions {
  hdgst: boolean;
  ddgst: boolean;
  /** data alignment the receiver asked for, in (x+1)*4 bytes (CPDA for host→controller, HPDA the other way) */
  pda?: number;
}

export const NO_DIGESTS: PduOptions = { hdgst: false, ddgst: false, pda: 0 };

/** Largest PLEN a decoder accepts unless told otherwise: bounds memory use against a hostile peer. */
export const DEFAULT_MAX_PLEN = 64 * 1024 * 1024;

export interface CommonHeader {
  type: number;
  flags: number;
  hlen: number;
  pdo: number;
  plen: number;
}

export interface IcReqPdu {
  kind: 'ICReq';
  pfv: number;
  hpda: number;
  hdgst: boolean;
  ddgst: boolean;
  maxr2t: number;
}
export interface IcRespPdu {
  kind: 'ICResp';
  pfv: number;
  cpda: number;
  hdgst: boolean;
  ddgst: boolean;
  maxh2cdata: number;
}
export interface TermReqPdu {
  kind: 'H2CTermReq' | 'C2HTermReq';
  /** Fatal Error Status */
  fes: number;
  /** Fatal Error Information */
  fei: number;
  /** the offending PDU header, as far as the sender included it */
  data: Buffer;
}
export interface CapsuleCmdPdu {
  kind: 'CapsuleCmd';
  sqe: Buffer;
  data: Buffer;
}
export interface CapsuleRespPdu {
  kind: 'CapsuleResp';
  cqe: Buffer;
}
export interface DataPdu {
  kind: 'H2CData' | 'C2HData';
  flags: number;
  cccid: number;
  /** H2CData only (C2HData: reserved, 0) */
  ttag: number;
  datao: number;
  datal: number;
  data: Buffer;
  last: boolean;
  /** C2HData: SUCCESS flag, no CapsuleResp follows */
  success: boolean;
}
export interface R2TPdu {
  kind: 'R2T';
  cccid: number;
  ttag: number;
  r2to: number;
  r2tl: number;
}
export type Pdu = IcReqPdu | IcRespPdu | TermReqPdu | CapsuleCmdPdu | CapsuleRespPdu | DataPdu | R2TPdu;

/** Fatal Error Status values of a TermReq. */
export const TermReqFes: Readonly<Record<number, string>> = {
  0x01: 'Invalid PDU Header Field',
  0x02: 'PDU Sequence Error',
  0x03: 'Header Digest Error',
  0x04: 'Data Transfer Out of Range',
  0x05: 'Data Transfer Limit Exceeded',
  0x06: 'Unsupported Parameter',
};

// ------------------------------------------------------------------------------------------------ framing

/**
 * Length of the PDU starting at buf[offset], or -1 if fewer than 8 bytes are there.
 * Checks what can be checked from the common header alone, so garbage is rejected before we wait for PLEN bytes.
 */
export function pduLength(buf: Buffer, offset = 0, maxPlen = DEFAULT_MAX_PLEN): number {
  if (buf.length - offset < CH_LEN) return -1;
  const type = buf[offset]!;
  const hlen = buf[offset + 2]!;
  const pdo = buf[offset + 3]!;
  const plen = buf.readUInt32LE(offset + 4);
  const expectHlen = PDU_HLEN[type];
  if (expectHlen === undefined)
    throw new MalformedError('PDU', 'type', `0x${type.toString(16)} is not an NVMe/TCP PDU type`);
  const name = PDU_TYPE_NAMES[type]!;
  if (hlen !== expectHlen) throw new MalformedError(name, 'HLEN', `${hlen}, expected ${expectHlen}`);
  if (plen < hlen) throw new MalformedError(name, 'PLEN', `${plen} is shorter than HLEN ${hlen}`);
  if (plen > maxPlen) throw new MalformedError(name, 'PLEN', `${plen} exceeds the limit ${maxPlen}`);
  if (pdo !== 0 && (pdo < hlen || pdo > plen))
    throw new MalformedError(name, 'PDO', `${pdo} outside [${hlen}, ${plen}]`);
  return plen;
}

export function decodeCommonHeader(buf: Buffer): CommonHeader {
  need(buf, CH_LEN, 'PDU common header');
  return { type: buf[0]!, flags: buf[1]!, hlen: buf[2]!, pdo: buf[3]!, plen: buf.readUInt32LE(4) };
}

// ------------------------------------------------------------------------------------------------ encoders

function header(type: number, flags: number, pdo: number, plen: number): Buffer {
  const hlen = PDU_HLEN[type]!;
  const h = Buffer.alloc(hlen);
  h[0] = type;
  h[1] = flags;
  h[2] = hlen;
  h[3] = pdo;
  h.writeUInt32LE(plen, 4);
  return h;
}

function digestBytes(data: Uint8Array): Buffer {
  const d = Buffer.allocUnsafe(DIGEST_LEN);
  d.writeUInt32LE(crc32c(data), 0);
  return d;
}

/**
 * Lays out a post-IC PDU: `fill` writes the PDU-specific header fields; returns [header(+hdgst+pad), data, ddgst]
 * segments (data and ddgst only when there is data).
 */
function frame(
  type: number,
  baseFlags: number,
  fill: (h: Buffer) => void,
  data: Buffer | undefined,
  o: PduOptions,
): Buffer[] {
  const hlen = PDU_HLEN[type]!;
  const hasData = data !== undefined && data.length > 0;
  const useH = o.hdgst;
  const useD = o.ddgst && hasData;
  let flags = baseFlags | (useH ? PduFlag.HDGSTF : 0) | (useD ? PduFlag.DDGSTF : 0);
  const afterHeader = hlen + (useH ? DIGEST_LEN : 0);
  let pdo = 0;
  let plen = afterHeader;
  if (hasData) {
    const align = ((o.pda ?? 0) + 1) * 4;
    pdo = Math.ceil(afterHeader / align) * align;
    if (pdo > 255) throw new EncodeError(PDU_TYPE_NAMES[type]!, `PDO ${pdo} does not fit in a byte`);
    plen = pdo + data.length + (useD ? DIGEST_LEN : 0);
  }
  if (plen > 0xffffffff) throw new EncodeError(PDU_TYPE_NAMES[type]!, `PLEN ${plen} too large`);
  flags &= 0xff;
  const head = Buffer.alloc(hasData ? pdo : afterHeader);
  head[0] = type;
  head[1] = flags;
  head[2] = hlen;
  head[3] = pdo;
  head.writeUInt32LE(plen, 4);
  fill(head);
  if (useH) head.writeUInt32LE(crc32c(head.subarray(0, hlen)), hlen);
  if (!hasData) return [head];
  return useD ? [head, data, digestBytes(data)] : [head, data];
}

export interface IcReqFields {
  hdgst: boolean;
  ddgst: boolean;
  /** 0's based */
  maxr2t?: number;
  hpda?: number;
  pfv?: number;
}

export function encodeIcReq(f: IcReqFields): Buffer {
  const h = header(PduType.ICReq, 0, 0, 128);
  h.writeUInt16LE(f.pfv ?? 0, 8);
  h[10] = f.hpda ?? 0;
  h[11] = (f.hdgst ? 1 : 0) | (f.ddgst ? 2 : 0);
  h.writeUInt32LE(f.maxr2t ?? 0, 12);
  return h;
}

export interface IcRespFields {
  hdgst: boolean;
  ddgst: boolean;
  maxh2cdata: number;
  cpda?: number;
  pfv?: number;
}

export function encodeIcResp(f: IcRespFields): Buffer {
  const h = header(PduType.ICResp, 0, 0, 128);
  h.writeUInt16LE(f.pfv ?? 0, 8);
  h[10] = f.cpda ?? 0;
  h[11] = (f.hdgst ? 1 : 0) | (f.ddgst ? 2 : 0);
  h.writeUInt32LE(f.maxh2cdata >>> 0, 12);
  return h;
}

/** CapsuleCmd: the 64-byte SQE plus optional in-capsule data. */
export function encodeCapsuleCmd(sqe: Buffer, data: Buffer | undefined, o: PduOptions): Buffer[] {
  if (sqe.length !== SQE_LEN) throw new EncodeError('CapsuleCmd', `SQE must be ${SQE_LEN} bytes, got ${sqe.length}`);
  return frame(PduType.CapsuleCmd, 0, (h) => sqe.copy(h, 8), data, o);
}

export function encodeCapsuleResp(cqe: Buffer, o: PduOptions): Buffer[] {
  if (cqe.length !== CQE_LEN) throw new EncodeError('CapsuleResp', `CQE must be ${CQE_LEN} bytes, got ${cqe.length}`);
  return frame(PduType.CapsuleResp, 0, (h) => cqe.copy(h, 8), undefined, o);
}

export interface DataFields {
  cccid: number;
  ttag?: number;
  datao: number;
  last: boolean;
  success?: boolean;
}

export function encodeH2CData(f: DataFields, data: Buffer, o: PduOptions): Buffer[] {
  return frame(
    PduType.H2CData,
    f.last ? PduFlag.LAST_PDU : 0,
    (h) => {
      h.writeUInt16LE(f.cccid, 8);
      h.writeUInt16LE(f.ttag ?? 0, 10);
      h.writeUInt32LE(f.datao, 12);
      h.writeUInt32LE(data.length, 16);
    },
    data,
    o,
  );
}

export function encodeC2HData(f: DataFields, data: Buffer, o: PduOptions): Buffer[] {
  const flags = (f.last ? PduFlag.LAST_PDU : 0) | (f.success ? PduFlag.SUCCESS : 0);
  return frame(
    PduType.C2HData,
    flags,
    (h) => {
      h.writeUInt16LE(f.cccid, 8);
      h.writeUInt32LE(f.datao, 12);
      h.writeUInt32LE(data.length, 16);
    },
    data,
    o,
  );
}

export function encodeR2T(f: { cccid: number; ttag: number; r2to: number; r2tl: number }, o: PduOptions): Buffer[] {
  return frame(
    PduType.R2T,
    0,
    (h) => {
      h.writeUInt16LE(f.cccid, 8);
      h.writeUInt16LE(f.ttag, 10);
      h.writeUInt32LE(f.r2to, 12);
      h.writeUInt32LE(f.r2tl, 16);
    },
    undefined,
    o,
  );
}

/** TermReq: no digests, PDO 0, the offending header (at most 152 bytes) follows the 24-byte header. */
export function encodeTermReq(
  direction: 'H2C' | 'C2H',
  fes: number,
  fei: number,
  offending: Buffer = Buffer.alloc(0),
): Buffer {
  const data = offending.subarray(0, 152);
  const type = direction === 'H2C' ? PduType.H2CTermReq : PduType.C2HTermReq;
  const h = header(type, 0, 0, 24 + data.length);
  h.writeUInt16LE(fes, 8);
  h.writeUInt32LE(fei >>> 0, 10);
  return data.length ? Buffer.concat([h, data]) : h;
}

/** Joins segments (tests, small PDUs). */
export function concatSegments(segs: Buffer[]): Buffer {
  return segs.length === 1 ? segs[0]! : Buffer.concat(segs);
}

// ------------------------------------------------------------------------------------------------ decoder

/**
 * Decodes one complete PDU (exactly PLEN bytes, as delimited by pduLength). `o` is the negotiated digest state;
 * ICReq/ICResp never carry digests, TermReqs are accepted with or without them.
 */
export function decodePdu(pdu: Buffer, o: PduOptions = NO_DIGESTS): Pdu {
  const plen = pduLength(pdu, 0, Number.MAX_SAFE_INTEGER);
  if (plen < 0) throw new TruncatedError('PDU', CH_LEN, pdu.length);
  if (pdu.length !== plen) {
    if (pdu.length < plen) throw new TruncatedError(PDU_TYPE_NAMES[pdu[0]!]!, plen, pdu.length);
    throw new MalformedError(PDU_TYPE_NAMES[pdu[0]!]!, 'length', `buffer holds ${pdu.length} bytes, PLEN says ${plen}`);
  }
  const type = pdu[0]!;
  const flags = pdu[1]!;
  const hlen = pdu[2]!;
  const pdo = pdu[3]!;
  const name = PDU_TYPE_NAMES[type]!;

  if (type === PduType.ICReq || type === PduType.ICResp) {
    if (plen !== 128) throw new MalformedError(name, 'PLEN', `${plen}, expected 128`);
    const pfv = pdu.readUInt16LE(8);
    const dgst = pdu[11]!;
    if (type === PduType.ICReq) {
      return {
        kind: 'ICReq',
        pfv,
        hpda: pdu[10]!,
        hdgst: (dgst & 1) !== 0,
        ddgst: (dgst & 2) !== 0,
        maxr2t: pdu.readUInt32LE(12),
      };
    }
    return {
      kind: 'ICResp',
      pfv,
      cpda: pdu[10]!,
      hdgst: (dgst & 1) !== 0,
      ddgst: (dgst & 2) !== 0,
      maxh2cdata: pdu.readUInt32LE(12),
    };
  }

  const isTerm = type === PduType.H2CTermReq || type === PduType.C2HTermReq;
  const hasH = (flags & PduFlag.HDGSTF) !== 0;
  if (!isTerm && hasH !== o.hdgst) {
    throw new MalformedError(
      name,
      'FLAGS',
      `HDGSTF ${hasH ? 'set' : 'clear'} but header digests were ${o.hdgst ? '' : 'not '}negotiated`,
    );
  }
  let afterHeader = hlen;
  if (hasH) {
    if (plen < hlen + DIGEST_LEN) throw new TruncatedError(`${name} header digest`, hlen + DIGEST_LEN, plen);
    const want = crc32c(pdu.subarray(0, hlen));
    const got = pdu.readUInt32LE(hlen);
    if (want !== got) throw new DigestError('header', want, got);
    afterHeader += DIGEST_LEN;
  }

  if (isTerm) {
    return {
      kind: type === PduType.H2CTermReq ? 'H2CTermReq' : 'C2HTermReq',
      fes: pdu.readUInt16LE(8),
      fei: pdu.readUInt32LE(10),
      data: pdu.subarray(afterHeader),
    };
  }

  // data section
  const hasD = (flags & PduFlag.DDGSTF) !== 0;
  let data: Buffer = pdu.subarray(0, 0);
  if (pdo !== 0) {
    if (pdo < afterHeader) throw new MalformedError(name, 'PDO', `${pdo} overlaps the header (ends at ${afterHeader})`);
    if (hasD && !o.ddgst) throw new MalformedError(name, 'FLAGS', 'DDGSTF set but data digests were not negotiated');
    if (!hasD && o.ddgst) throw new MalformedError(name, 'FLAGS', 'DDGSTF clear but data digests were negotiated');
    const end = plen - (hasD ? DIGEST_LEN : 0);
    if (end < pdo)
      throw new MalformedError(name, 'PLEN', `${plen} leaves no room for the data digest after PDO ${pdo}`);
    data = pdu.subarray(pdo, end);
    if (hasD) {
      const want = crc32c(data);
      const got = pdu.readUInt32LE(end);
      if (want !== got) throw new DigestError('data', want, got);
    }
  } else {
    if (hasD) throw new MalformedError(name, 'FLAGS', 'DDGSTF set on a PDU without data');
    if (plen !== afterHeader) throw new MalformedError(name, 'PLEN', `${plen} but PDO is 0 (expected ${afterHeader})`);
  }

  switch (type) {
    case PduType.CapsuleCmd:
      return { kind: 'CapsuleCmd', sqe: pdu.subarray(8, 8 + SQE_LEN), data };
    case PduType.CapsuleResp:
      if (pdo !== 0) throw new MalformedError(name, 'PDO', `${pdo}, a CapsuleResp carries no data`);
      return { kind: 'CapsuleResp', cqe: pdu.subarray(8, 8 + CQE_LEN) };
    case PduType.R2T:
      if (pdo !== 0) throw new MalformedError(name, 'PDO', `${pdo}, an R2T carries no data`);
      return {
        kind: 'R2T',
        cccid: pdu.readUInt16LE(8),
        ttag: pdu.readUInt16LE(10),
        r2to: pdu.readUInt32LE(12),
        r2tl: pdu.readUInt32LE(16),
      };
    default: {
      // H2CData / C2HData
      const datal = pdu.readUInt32LE(16);
      if (pdo === 0 || datal !== data.length) {
        throw new MalformedError(name, 'DATAL', `${datal} but the PDU carries ${data.length} data bytes`);
      }
      const success = (flags & PduFlag.SUCCESS) !== 0;
      const last = (flags & PduFlag.LAST_PDU) !== 0;
      if (success && !last) throw new MalformedError(name, 'FLAGS', 'SUCCESS without LAST_PDU');
      return {
        kind: type === PduType.H2CData ? 'H2CData' : 'C2HData',
        flags,
        cccid: pdu.readUInt16LE(8),
        ttag: type === PduType.H2CData ? pdu.readUInt16LE(10) : 0,
        datao: pdu.readUInt32LE(12),
        datal,
        data,
        last,
        success: type === PduType.C2HData && success,
      };
    }
  }
}
