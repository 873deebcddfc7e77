// Parsed Identify data structures (controller, namespace, active NSID list, NS identification descriptors).
import { need } from './errors.js';
import { MalformedError } from './errors.js';
import { fixedString, hex, uuidString } from './text.js';

export interface IdentifyController {
  vid: number;
  ssvid: number;
  sn: string;
  mn: string;
  fr: string;
  rab: number;
  ieee: string;
  cmic: number;
  /** Maximum Data Transfer Size as a power of two of the minimum page size; 0 = no limit */
  mdts: number;
  cntlid: number;
  ver: number;
  oaes: number;
  ctratt: number;
  /** 0 reserved, 1 I/O, 2 discovery, 3 administrative */
  cntrltype: number;
  oacs: number;
  acl: number;
  aerl: number;
  lpa: number;
  elpe: number;
  /** Keep Alive Support granularity in 100 ms units; 0 = keep alive not supported */
  kas: number;
  sqes: number;
  cqes: number;
  maxcmd: number;
  /** number of namespaces (highest valid NSID) */
  nn: number;
  oncs: number;
  sgls: number;
  subnqn: string;
  /** I/O Queue Command Capsule Supported Size, in 16-byte units */
  ioccsz: number;
  iorcsz: number;
  icdoff: number;
  fcatt: number;
  msdbd: number;
  ofcs: number;
  /** TP8010 discovery controller type: 0 none, 1 DDC, 2 CDC */
  dctype: number;
}

export function parseIdentifyController(b: Buffer): IdentifyController {
  need(b, 4096, 'Identify Controller');
  return {
    vid: b.readUInt16LE(0),
    ssvid: b.readUInt16LE(2),
    sn: fixedString(b, 4, 24),
    mn: fixedString(b, 24, 64),
    fr: fixedString(b, 64, 72),
    rab: b[72]!,
    ieee: hex(b.subarray(73, 76)),
    cmic: b[76]!,
    mdts: b[77]!,
    cntlid: b.readUInt16LE(78),
    ver: b.readUInt32LE(80),
    oaes: b.readUInt32LE(92),
    ctratt: b.readUInt32LE(96),
    cntrltype: b[111]!,
    oacs: b.readUInt16LE(256),
    acl: b[258]!,
    aerl: b[259]!,
    lpa: b[261]!,
    elpe: b[262]!,
    kas: b.readUInt16LE(320),
    sqes: b[512]!,
    cqes: b[513]!,
    maxcmd: b.readUInt16LE(514),
    nn: b.readUInt32LE(516),
    oncs: b.readUInt16LE(520),
    sgls: b.readUInt32LE(536),
    subnqn: fixedString(b, 768, 1024),
    ioccsz: b.readUInt32LE(1792),
    iorcsz: b.readUInt32LE(1796),
    icdoff: b.readUInt16LE(1800),
    fcatt: b[1802]!,
    msdbd: b[1803]!,
    ofcs: b.readUInt16LE(1804),
    dctype: b[1806]!,
  };
}

/** Largest in-capsule write on an I/O queue: IOCCSZ*16 minus the 64-byte SQE (0 when IOCCSZ is not reported). */
export function inlineDataLimit(idc: IdentifyController): number {
  return idc.ioccsz > 4 ? idc.ioccsz * 16 - 64 : 0;
}

export interface LbaFormat {
  /** metadata bytes per block */
  ms: number;
  /** LBA data size as a power of two */
  lbads: number;
  /** relative performance */
  rp: number;
}

export interface IdentifyNamespace {
  nsze: bigint;
  ncap: bigint;
  nuse: bigint;
  nsfeat: number;
  /** number of LBA formats (1-based here: NLBAF + 1) */
  lbaFormatCount: number;
  flbas: number;
  /** index into lbaFormats of the format in use */
  lbaFormatIndex: number;
  lbaFormats: LbaFormat[];
  /** bytes per logical block of the format in use */
  lbaSize: number;
  /** nsze × lbaSize */
  sizeBytes: bigint;
  nmic: number;
  nguid: string;
  eui64: string;
}

export function parseIdentifyNamespace(b: Buffer): IdentifyNamespace {
  need(b, 4096, 'Identify Namespace');
  const nlbaf = b[25]!;
  const flbas = b[26]!;
  const lbaFormats: LbaFormat[] = [];
  for (let i = 0; i <= Math.min(nlbaf, 63); i++) {
    const v = b.readUInt32LE(128 + 4 * i);
    lbaFormats.push({ ms: v & 0xffff, lbads: (v >>> 16) & 0xff, rp: (v >>> 24) & 0x3 });
  }
  // FLBAS bits 3:0 are the low index bits, bits 6:5 the high ones when there are more than 16 formats
  const lbaFormatIndex = (flbas & 0xf) | (nlbaf >= 16 ? ((flbas >> 5) & 0x3) << 4 : 0);
  const fmt = lbaFormats[lbaFormatIndex];
  const nsze = b.readBigUInt64LE(0);
  let lbaSize = 0;
  if (nsze !== 0n) {
    // an inactive namespace is all zeroes; an active one must have a sane format in use
    if (!fmt || fmt.lbads < 9 || fmt.lbads > 31) {
      throw new MalformedError(
        'Identify Namespace',
        'LBAF[FLBAS]',
        `format ${lbaFormatIndex} has LBADS ${fmt?.lbads ?? 'missing'} (need 9..31)`,
      );
    }
    lbaSize = 2 ** fmt.lbads;
  }
  return {
    nsze,
    ncap: b.readBigUInt64LE(8),
    nuse: b.readBigUInt64LE(16),
    nsfeat: b[24]!,
    lbaFormatCount: nlbaf + 1,
    flbas,
    lbaFormatIndex,
    lbaFormats,
    lbaSize,
    sizeBytes: nsze * BigInt(lbaSize),
    nmic: b[30]!,
    nguid: hex(b.subarray(104, 120)),
    eui64: hex(b.subarray(120, 128)),
  };
}

/** CNS 02h: the list of active NSIDs, ascending, ends at the first 0. */
export function parseActiveNamespaceList(b: Buffer): number[] {
  need(b, 4096, 'Active Namespace ID list');
  const out: number[] = [];
  for (let off = 0; off < 4096; off += 4) {
    const id = b.readUInt32LE(off);
    if (id === 0) break;
    out.push(id);
  }
  return out;
}

export interface NamespaceDescriptor {
  /** 1 EUI64, 2 NGUID, 3 UUID, 4 CSI */
  type: number;
  typeName: string;
  /** hex, or a UUID string for type 3, or the decimal CSI */
  value: string;
}

const NIDT: Readonly<Record<number, [string, number]>> = {
  1: ['eui64', 8],
  2: ['nguid', 16],
  3: ['uuid', 16],
  4: ['csi', 1],
};

/** CNS 03h: NIDT/NIDL/NID triples until a zero type. */
export function parseNamespaceDescriptors(b: Buffer): NamespaceDescriptor[] {
  const out: NamespaceDescriptor[] = [];
  let off = 0;
  while (off + 4 <= b.length) {
    const type = b[off]!;
    const len = b[off + 1]!;
    if (type === 0) break;
    if (off + 4 + len > b.length)
      throw new MalformedError('NS descriptors', 'NIDL', `descriptor at ${off} (length ${len}) runs past the end`);
    const known = NIDT[type];
    if (known && known[1] !== len)
      throw new MalformedError('NS descriptors', 'NIDL', `type ${type} must be ${known[1]} bytes, got ${len}`);
    const nid = b.subarray(off + 4, off + 4 + len);
    const value = type === 3 ? uuidString(nid) : type === 4 ? String(nid[0]) : hex(nid);
    out.push({ type, typeName: known?.[0] ?? `type${type}`, value });
    off += 4 + len;
  }
  return out;
}
