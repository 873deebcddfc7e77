// Submission and completion queue entries, and the one SGL descriptor a fabrics SQE carries.
import { CQE_LEN, PSDT_SGL, SQE_LEN, SglId } from './constants.js';
import { EncodeError, MalformedError, need } from './errors.js';
import { splitStatus, type NvmeStatus } from './status.js';

export interface SqeFields {
  opc: number;
  cid?: number;
  nsid?: number;
  /** fabrics commands: FCTYPE at byte 4 (where NSID lives for other commands) */
  fctype?: number;
  cdw10?: number;
  cdw11?: number;
  cdw12?: number;
  cdw13?: number;
  cdw14?: number;
  cdw15?: number;
}

function u32(what: string, v: number | undefined): number {
  const x = v ?? 0;
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff)
    throw new EncodeError('SQE', `${what} ${x} is not a 32-bit unsigned integer`);
  return x;
}

/** A 64-byte SQE with PSDT=01b (SGL); the transport fills CID and SGL1 at submission. */
export function encodeSqe(f: SqeFields): Buffer {
  const b = Buffer.alloc(SQE_LEN);
  b[0] = f.opc & 0xff;
  b[1] = PSDT_SGL;
  b.writeUInt16LE((f.cid ?? 0) & 0xffff, 2);
  if (f.fctype !== undefined) b[4] = f.fctype;
  else b.writeUInt32LE(u32('NSID', f.nsid), 4);
  b.writeUInt32LE(u32('CDW10', f.cdw10), 40);
  b.writeUInt32LE(u32('CDW11', f.cdw11), 44);
  b.writeUInt32LE(u32('CDW12', f.cdw12), 48);
  b.writeUInt32LE(u32('CDW13', f.cdw13), 52);
  b.writeUInt32LE(u32('CDW14', f.cdw14), 56);
  b.writeUInt32LE(u32('CDW15', f.cdw15), 60);
  return b;
}

export interface DecodedSqe {
  opc: number;
  psdt: number;
  cid: number;
  nsid: number;
  fctype: number;
  sgl: SglDescriptor;
  cdw10: number;
  cdw11: number;
  cdw12: number;
  cdw13: number;
  cdw14: number;
  cdw15: number;
}

export function decodeSqe(b: Buffer): DecodedSqe {
  need(b, SQE_LEN, 'SQE');
  return {
    opc: b[0]!,
    psdt: (b[1]! >> 6) & 3,
    cid: b.readUInt16LE(2),
    nsid: b.readUInt32LE(4),
    fctype: b[4]!,
    sgl: decodeSgl(b.subarray(24, 40)),
    cdw10: b.readUInt32LE(40),
    cdw11: b.readUInt32LE(44),
    cdw12: b.readUInt32LE(48),
    cdw13: b.readUInt32LE(52),
    cdw14: b.readUInt32LE(56),
    cdw15: b.readUInt32LE(60),
  };
}

export interface SglDescriptor {
  address: bigint;
  length: number;
  /** identifier byte: type << 4 | subtype */
  id: number;
  type: number;
  subtype: number;
}

/** Writes SGL1 (bytes 24..39): identifier 0x01 (in-capsule, offset `address`) or 0x5A (transport data / none). */
export function setSgl1(sqe: Buffer, id: number, length: number, address = 0n): void {
  if (id !== SglId.InCapsule && id !== SglId.Transport)
    throw new EncodeError('SGL1', `identifier 0x${id.toString(16)} not used by NVMe/TCP`);
  if (!Number.isInteger(length) || length < 0 || length > 0xffffffff)
    throw new EncodeError('SGL1', `length ${length} out of range`);
  sqe.writeBigUInt64LE(address, 24);
  sqe.writeUInt32LE(length, 32);
  sqe[36] = 0;
  sqe[37] = 0;
  sqe[38] = 0;
  sqe[39] = id;
}

export function decodeSgl(b: Buffer): SglDescriptor {
  need(b, 16, 'SGL descriptor');
  const id = b[15]!;
  return { address: b.readBigUInt64LE(0), length: b.readUInt32LE(8), id, type: id >> 4, subtype: id & 0xf };
}

export interface Cqe extends NvmeStatus {
  dw0: number;
  dw1: number;
  sqhd: number;
  sqid: number;
  cid: number;
  /** raw status half-word (bytes 14..15), phase bit included */
  status: number;
  ok: boolean;
}

export function decodeCqe(b: Buffer): Cqe {
  need(b, CQE_LEN, 'CQE');
  const status = b.readUInt16LE(14);
  const st = splitStatus(status);
  return {
    dw0: b.readUInt32LE(0),
    dw1: b.readUInt32LE(4),
    sqhd: b.readUInt16LE(8),
    sqid: b.readUInt16LE(10),
    cid: b.readUInt16LE(12),
    status,
    ...st,
    ok: status >> 1 === 0,
  };
}

export interface CqeFields {
  dw0?: number;
  dw1?: number;
  sqhd?: number;
  sqid?: number;
  cid: number;
  sct?: number;
  sc?: number;
  dnr?: boolean;
}

export function encodeCqe(f: CqeFields): Buffer {
  const b = Buffer.alloc(CQE_LEN);
  b.writeUInt32LE((f.dw0 ?? 0) >>> 0, 0);
  b.writeUInt32LE((f.dw1 ?? 0) >>> 0, 4);
  b.writeUInt16LE(f.sqhd ?? 0, 8);
  b.writeUInt16LE(f.sqid ?? 0, 10);
  b.writeUInt16LE(f.cid & 0xffff, 12);
  const sc = f.sc ?? 0;
  const sct = f.sct ?? 0;
  if (sc > 0xff || sct > 7) throw new MalformedError('CQE', 'status', `SCT ${sct} SC ${sc} out of range`);
  b.writeUInt16LE((sc << 1) | (sct << 9) | (f.dnr ? 0x8000 : 0), 14);
  return b;
}
