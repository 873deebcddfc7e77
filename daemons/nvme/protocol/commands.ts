// Builders of the fabrics, admin and I/O commands a host sends. Each returns an NvmeCommand: the SQE without CID
// and SGL (the queue fills them), the data to write, or the length to read. Pure; no I/O.
import { AEC_DISCOVERY_LOG_CHANGE, AdminOpcode, FabricsType, FeatureId, IdentifyCns, IoOpcode } from './constants.js';
import { EncodeError } from './errors.js';
import { encodeSqe } from './sqe.js';

export interface NvmeCommand {
  /** short name for errors and logs, e.g. "Identify(CNS=1)" */
  name: string;
  sqe: Buffer;
  /** host→controller data */
  write?: Buffer;
  /** controller→host byte count */
  readLength?: number;
  /** fabrics command (status codes 0x80.. have fabrics meanings) */
  fabrics?: boolean;
}

// ------------------------------------------------------------------------------------------------ fabrics

export interface ConnectFields {
  /** 0 = admin queue */
  qid: number;
  /** 0's based submission queue size: admin 31, I/O 127 */
  sqsize: number;
  /** KATO in ms (admin queue only; 0 = none) */
  katoMs?: number;
  /** CATTR bit 2: disable SQ flow control (the target then uses the C2HData SUCCESS flag) */
  disableSqFlow?: boolean;
  /** 16 raw bytes of the host UUID */
  hostId: Buffer;
  /** 0xFFFF on the admin queue (dynamic), the admin Connect's CNTLID on I/O queues */
  cntlid: number;
  subnqn: string;
  hostnqn: string;
}

function putNqn(buf: Buffer, off: number, nqn: string, what: string): void {
  const bytes = Buffer.from(nqn, 'utf8');
  if (bytes.length === 0 || bytes.length > 223)
    throw new EncodeError('Connect', `${what} must be 1..223 bytes, got ${bytes.length}`);
  bytes.copy(buf, off);
}

/** Fabrics Connect with its 1024-byte data (sent in-capsule). */
export function connectCommand(f: ConnectFields): NvmeCommand {
  if (f.hostId.length !== 16) throw new EncodeError('Connect', `HOSTID must be 16 bytes, got ${f.hostId.length}`);
  const sqe = encodeSqe({ opc: AdminOpcode.Fabrics, fctype: FabricsType.Connect });
  sqe.writeUInt16LE(0, 40); // RECFMT
  sqe.writeUInt16LE(f.qid & 0xffff, 42);
  sqe.writeUInt16LE(f.sqsize & 0xffff, 44);
  sqe[46] = f.disableSqFlow ? 0x04 : 0;
  sqe.writeUInt32LE((f.katoMs ?? 0) >>> 0, 48);
  const data = Buffer.alloc(1024);
  f.hostId.copy(data, 0);
  data.writeUInt16LE(f.cntlid & 0xffff, 16);
  putNqn(data, 256, f.subnqn, 'SUBNQN');
  putNqn(data, 512, f.hostnqn, 'HOSTNQN');
  return { name: `Connect(QID=${f.qid})`, sqe, write: data, fabrics: true };
}

/** Property Get: 4 or 8 bytes; the value comes back in DW0 (and DW1). */
export function propertyGetCommand(offset: number, size: 4 | 8): NvmeCommand {
  const sqe = encodeSqe({ opc: AdminOpcode.Fabrics, fctype: FabricsType.PropertyGet });
  sqe[40] = size === 8 ? 1 : 0;
  sqe.writeUInt32LE(offset, 44);
  return { name: `PropertyGet(0x${offset.toString(16)})`, sqe, fabrics: true };
}

export function propertySetCommand(offset: number, value: bigint | number, size: 4 | 8 = 4): NvmeCommand {
  const sqe = encodeSqe({ opc: AdminOpcode.Fabrics, fctype: FabricsType.PropertySet });
  sqe[40] = size === 8 ? 1 : 0;
  sqe.writeUInt32LE(offset, 44);
  sqe.writeBigUInt64LE(BigInt(value), 48);
  return { name: `PropertySet(0x${offset.toString(16)})`, sqe, fabrics: true };
}

// ------------------------------------------------------------------------------------------------ admin

export function identifyCommand(cns: number, nsid = 0): NvmeCommand {
  return {
    name: `Identify(CNS=${cns}${nsid ? `,NSID=${nsid}` : ''})`,
    sqe: encodeSqe({ opc: AdminOpcode.Identify, nsid, cdw10: cns }),
    readLength: 4096,
  };
}
export const identifyControllerCommand = (): NvmeCommand => identifyCommand(IdentifyCns.Controller);
export const identifyNamespaceCommand = (nsid: number): NvmeCommand => identifyCommand(IdentifyCns.Namespace, nsid);
export const activeNamespaceListCommand = (startAfter = 0): NvmeCommand =>
  identifyCommand(IdentifyCns.ActiveNamespaceList, startAfter);
export const namespaceDescriptorsCommand = (nsid: number): NvmeCommand =>
  identifyCommand(IdentifyCns.NamespaceDescriptors, nsid);

export interface GetLogPageFields {
  lid: number;
  /** bytes, a multiple of 4, > 0 */
  length: number;
  /** byte offset, a multiple of 4 */
  offset?: number;
  /** Log Specific Parameter (7 bits here: CDW10 bits 14:8) */
  lsp?: number;
  /** Retain Asynchronous Event: true keeps the event masked (CDW10 bit 15) */
  rae?: boolean;
  /** Log Specific Identifier (CDW11 bits 31:16) */
  lsi?: number;
  nsid?: number;
}

/** The CDW10..13 of Get Log Page: `LID | LSP<<8 | RAE<<15 | NUMDL<<16`, `NUMDU | LSI<<16`, offset low/high. */
export function getLogPageDwords(f: GetLogPageFields): { cdw10: number; cdw11: number; cdw12: number; cdw13: number } {
  const off = f.offset ?? 0;
  if (!Number.isInteger(f.length) || f.length <= 0 || f.length % 4 !== 0)
    throw new EncodeError('Get Log Page', `length ${f.length} must be a positive multiple of 4`);
  if (!Number.isSafeInteger(off) || off < 0 || off % 4 !== 0)
    throw new EncodeError('Get Log Page', `offset ${off} must be a non-negative multiple of 4`);
  const lsp = f.lsp ?? 0;
  if (lsp < 0 || lsp > 0x7f) throw new EncodeError('Get Log Page', `LSP ${lsp} out of range 0..127`);
  const numd = f.length / 4 - 1;
  if (numd > 0xffffffff) throw new EncodeError('Get Log Page', `length ${f.length} too large`);
  const cdw10 = ((f.lid & 0xff) | (lsp << 8) | (f.rae ? 0x8000 : 0) | ((numd & 0xffff) << 16)) >>> 0;
  const cdw11 = ((Math.floor(numd / 0x10000) & 0xffff) | (((f.lsi ?? 0) & 0xffff) << 16)) >>> 0;
  return { cdw10, cdw11, cdw12: off % 0x100000000, cdw13: Math.floor(off / 0x100000000) };
}

export function getLogPageCommand(f: GetLogPageFields): NvmeCommand {
  const d = getLogPageDwords(f);
  return {
    name: `GetLogPage(LID=0x${f.lid.toString(16)},off=${f.offset ?? 0},len=${f.length},RAE=${f.rae ? 1 : 0})`,
    sqe: encodeSqe({ opc: AdminOpcode.GetLogPage, nsid: f.nsid ?? 0, ...d }),
    readLength: f.length,
  };
}

export function setFeaturesCommand(fid: number, cdw11: number, save = false): NvmeCommand {
  return {
    name: `SetFeatures(FID=0x${fid.toString(16)})`,
    sqe: encodeSqe({
      opc: AdminOpcode.SetFeatures,
      cdw10: ((fid & 0xff) | (save ? 0x80000000 : 0)) >>> 0,
      cdw11: cdw11 >>> 0,
    }),
  };
}

/** Set Features 0x0B with bit 31: ask for Discovery Log Page Change notices. */
export const enableDiscoveryAenCommand = (): NvmeCommand =>
  setFeaturesCommand(FeatureId.AsyncEventConfig, AEC_DISCOVERY_LOG_CHANGE);

export const keepAliveCommand = (): NvmeCommand => ({
  name: 'KeepAlive',
  sqe: encodeSqe({ opc: AdminOpcode.KeepAlive }),
});

export const asyncEventRequestCommand = (): NvmeCommand => ({
  name: 'AsyncEventRequest',
  sqe: encodeSqe({ opc: AdminOpcode.AsyncEventRequest }),
});

// ------------------------------------------------------------------------------------------------ I/O

export interface BlockRange {
  nsid: number;
  slba: bigint | number;
  /** number of logical blocks (1-based here; encoded 0's based) */
  blocks: number;
}

function rwDwords(r: BlockRange): { cdw10: number; cdw11: number; cdw12: number } {
  const slba = BigInt(r.slba);
  if (slba < 0n || slba > 0xffffffffffffffffn) throw new EncodeError('Read/Write', `SLBA ${slba} out of range`);
  if (!Number.isInteger(r.blocks) || r.blocks < 1 || r.blocks > 0x10000)
    throw new EncodeError('Read/Write', `block count ${r.blocks} must be 1..65536`);
  return { cdw10: Number(slba & 0xffffffffn), cdw11: Number(slba >> 32n), cdw12: r.blocks - 1 };
}

export function readCommand(r: BlockRange, lbaSize: number): NvmeCommand {
  return {
    name: `Read(NSID=${r.nsid},SLBA=${r.slba},NLB=${r.blocks})`,
    sqe: encodeSqe({ opc: IoOpcode.Read, nsid: r.nsid, ...rwDwords(r) }),
    readLength: r.blocks * lbaSize,
  };
}

export function writeCommand(r: BlockRange, data: Buffer, lbaSize: number): NvmeCommand {
  if (data.length !== r.blocks * lbaSize)
    throw new EncodeError(
      'Write',
      `data is ${data.length} bytes, ${r.blocks} blocks of ${lbaSize} need ${r.blocks * lbaSize}`,
    );
  return {
    name: `Write(NSID=${r.nsid},SLBA=${r.slba},NLB=${r.blocks})`,
    sqe: encodeSqe({ opc: IoOpcode.Write, nsid: r.nsid, ...rwDwords(r) }),
    write: data,
  };
}
