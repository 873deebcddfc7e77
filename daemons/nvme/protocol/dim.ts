// TP8010 Discovery Information Management (DIM, admin opcode 21h): the command a host sends to a DDC/CDC to
// register (TAS 0), deregister (1) or update (2) itself. The data is one DIM header (1024 bytes) followed by
// extended Discovery Information Entries (DIE: 1032 fixed bytes + extended attributes). stas registers exactly one
// entry describing this host, with an empty address so the DC takes the source address of the connection.
// Layout derived from the TP8010 text (offsets are bytes, little endian):
//   header: 0 TDL u32 | 8 NUMENT u64 | 16 ENTFMT u16 | 18 ETYPE u16 | 20 PORTLCL u8 | 22 EKTYPE u16 |
//           24 EID[256] | 280 ENAME[256] | 536 EVER[64] | 600..1023 reserved
//   DIE:    0 TRTYPE | 1 ADRFAM | 2 SUBTYPE | 3 TREQ | 4 PORTID u16 | 6 CNTLID u16 | 8 ASQSZ u16 | 32 TRSVCID[32] |
//           256 NQN[256] | 512 TRADDR[256] | 768 TSAS[256] | 1024 TEL u32 | 1028 NUMEXAT u16 | 1032 EXAT...
//   EXAT:   0 EXATTYPE u16 | 2 EXATLEN u16 (a multiple of 4) | 4 EXATVAL[EXATLEN]
import { AdminOpcode } from './constants.js';
import { EncodeError, MalformedError, need } from './errors.js';
import { encodeSqe } from './sqe.js';
import type { NvmeCommand } from './commands.js';
import { fixedString } from './text.js';

/** CDW10 bits 3:0 */
export const DimTask = { Register: 0, Deregister: 1, Update: 2 } as const;
export type DimTaskCode = (typeof DimTask)[keyof typeof DimTask];

export const DIM_HEADER_LEN = 1024;
export const DIE_FIXED_LEN = 1032;
/** ENTFMT 2: extended entries */
export const DIM_ENTFMT_EXTENDED = 2;
/** ETYPE 1: the entity registering is a host */
export const DIM_ETYPE_HOST = 1;
/** EKTYPE: the only value TP8010 defines */
export const DIM_EKTYPE = 0x5f;
export const ExatType = { HostId: 1, SymbolicName: 2 } as const;

export interface DimHostEntry {
  /** EID and the DIE's NQN */
  hostnqn: string;
  /** 16 raw bytes of the host ID (the mandatory HOSTID attribute) */
  hostId: Buffer;
  /** ENAME: the host name */
  entityName: string;
  /** EVER: "<ostype> <osrelease> <distro>" */
  entityVersion: string;
  /** optional SYMNAME attribute */
  symname?: string | null;
  /** TRTYPE, default 3 (TCP) */
  trtype?: number;
  /** ADRFAM: 1 IPv4, 2 IPv6 */
  adrfam: number;
  /** registered address; '' = use the source address of the connection */
  traddr?: string;
}

const pad4 = (n: number): number => (n + 3) & ~3;

function putText(b: Buffer, off: number, len: number, text: string): void {
  // truncated to the field, NUL-padded (the buffer is zeroed); a NUL-terminated field keeps its last byte 0
  Buffer.from(text, 'utf8')
    .subarray(0, len - 1)
    .copy(b, off);
}

/** The DIM data for one host entry. */
export function encodeDimData(e: DimHostEntry): Buffer {
  if (e.hostId.length !== 16) throw new EncodeError('DIM', `host ID must be 16 bytes, got ${e.hostId.length}`);
  const nqn = Buffer.from(e.hostnqn, 'utf8');
  if (nqn.length === 0 || nqn.length > 223)
    throw new EncodeError('DIM', `host NQN must be 1..223 bytes, got ${nqn.length}`);
  const sym = e.symname ? Buffer.from(e.symname, 'utf8') : Buffer.alloc(0);
  if (sym.length > 0xfffc) throw new EncodeError('DIM', `symbolic name too long (${sym.length} bytes)`);
  const exats = 4 + 16 + (sym.length ? 4 + pad4(sym.length) : 0);
  const tel = DIE_FIXED_LEN + exats;
  const b = Buffer.alloc(DIM_HEADER_LEN + tel);
  b.writeUInt32LE(b.length, 0);
  b.writeBigUInt64LE(1n, 8);
  b.writeUInt16LE(DIM_ENTFMT_EXTENDED, 16);
  b.writeUInt16LE(DIM_ETYPE_HOST, 18);
  b.writeUInt16LE(DIM_EKTYPE, 22);
  nqn.copy(b, 24);
  putText(b, 280, 256, e.entityName);
  putText(b, 536, 64, e.entityVersion);
  const d = DIM_HEADER_LEN;
  b[d] = e.trtype ?? 3;
  b[d + 1] = e.adrfam;
  nqn.copy(b, d + 256);
  putText(b, d + 512, 256, e.traddr ?? '');
  b.writeUInt32LE(tel, d + 1024);
  b.writeUInt16LE(sym.length ? 2 : 1, d + 1028);
  let x = d + DIE_FIXED_LEN;
  b.writeUInt16LE(ExatType.HostId, x);
  b.writeUInt16LE(16, x + 2);
  e.hostId.copy(b, x + 4);
  x += 20;
  if (sym.length) {
    const len = pad4(sym.length);
    b.writeUInt16LE(ExatType.SymbolicName, x);
    b.writeUInt16LE(len, x + 2);
    // ASCII fields are space-padded
    b.fill(0x20, x + 4, x + 4 + len);
    sym.copy(b, x + 4);
  }
  return b;
}

/** The DIM command carrying `data` (sent in-capsule or after R2T, as the queue decides). */
export function dimCommand(tas: DimTaskCode, data: Buffer): NvmeCommand {
  if (!Number.isInteger(tas) || tas < 0 || tas > 0xf) throw new EncodeError('DIM', `TAS ${tas} out of range 0..15`);
  return { name: `DIM(TAS=${tas})`, sqe: encodeSqe({ opc: AdminOpcode.DiscoveryInfoMgmt, cdw10: tas }), write: data };
}

export interface DimEntry {
  trtype: number;
  adrfam: number;
  nqn: string;
  traddr: string;
  tel: number;
  hostId?: string;
  symname?: string;
}

export interface DimData {
  tdl: number;
  entfmt: number;
  etype: number;
  ektype: number;
  eid: string;
  ename: string;
  ever: string;
  entries: DimEntry[];
}

/** Decodes DIM data with extended entries (for tests and peers; the host only encodes). */
export function parseDimData(b: Buffer): DimData {
  need(b, DIM_HEADER_LEN, 'DIM data');
  const tdl = b.readUInt32LE(0);
  if (tdl > b.length) throw new MalformedError('DIM data', 'TDL', `${tdl} exceeds the ${b.length} bytes received`);
  const nument = b.readBigUInt64LE(8);
  const entries: DimEntry[] = [];
  let off = DIM_HEADER_LEN;
  for (let i = 0n; i < nument; i++) {
    if (off + DIE_FIXED_LEN > tdl) throw new MalformedError('DIM data', 'NUMENT', `entry ${i} runs past TDL ${tdl}`);
    const tel = b.readUInt32LE(off + 1024);
    if (tel < DIE_FIXED_LEN || off + tel > tdl)
      throw new MalformedError('DIM data', 'TEL', `entry ${i} has TEL ${tel}`);
    const e: DimEntry = {
      trtype: b[off]!,
      adrfam: b[off + 1]!,
      nqn: fixedString(b, off + 256, off + 512),
      traddr: fixedString(b, off + 512, off + 768),
      tel,
    };
    let x = off + DIE_FIXED_LEN;
    for (let n = b.readUInt16LE(off + 1028); n > 0; n--) {
      if (x + 4 > off + tel) throw new MalformedError('DIM data', 'NUMEXAT', `attributes run past TEL in entry ${i}`);
      const type = b.readUInt16LE(x);
      const len = b.readUInt16LE(x + 2);
      if (x + 4 + len > off + tel)
        throw new MalformedError('DIM data', 'EXATLEN', `attribute ${type} runs past TEL in entry ${i}`);
      const val = b.subarray(x + 4, x + 4 + len);
      if (type === ExatType.HostId) e.hostId = val.toString('hex');
      else if (type === ExatType.SymbolicName) e.symname = val.toString('utf8').replace(/[ \0]+$/, '');
      x += 4 + len;
    }
    entries.push(e);
    off += tel;
  }
  return {
    tdl,
    entfmt: b.readUInt16LE(16),
    etype: b.readUInt16LE(18),
    ektype: b.readUInt16LE(22),
    eid: fixedString(b, 24, 280),
    ename: fixedString(b, 280, 536),
    ever: fixedString(b, 536, 600),
    entries,
  };
}
