// Discovery log page (LID 0x70): header, 1024-byte entries with every field, and the nvme-stas DLPE dict
// (string values exactly as nvme-stas/libnvme print them, keys in libnvme's order).
import { DISCOVERY_LOG_ENTRY_LEN, DISCOVERY_LOG_HEADER_LEN } from './constants.js';
import { MalformedError, need } from './errors.js';
import { fixedString } from './text.js';

export interface DiscoveryLogHeader {
  genctr: bigint;
  numrec: bigint;
  recfmt: number;
}

export interface DiscoveryLogEntry {
  trtype: number;
  adrfam: number;
  subtype: number;
  treq: number;
  portid: number;
  cntlid: number;
  asqsz: number;
  eflags: number;
  trsvcid: string;
  subnqn: string;
  traddr: string;
  /** the raw 256-byte TSAS field */
  tsas: Buffer;
}

export interface DiscoveryLog extends DiscoveryLogHeader {
  entries: DiscoveryLogEntry[];
}

/** A discovery log page is never trusted beyond this many records (256 MiB of log). */
export const MAX_DISCOVERY_RECORDS = 262144;

/**
 * A discovery log page with more records than the reader accepts (max-log-entries): refused from its header, before
 * any buffer for the entries is allocated.
 */
export class DiscoveryLogTooLargeError extends Error {
  constructor(
    readonly numrec: bigint,
    readonly limit: number,
  ) {
    super(`the discovery log page has ${numrec} records, more than max-log-entries=${limit}; not read`);
    this.name = 'DiscoveryLogTooLargeError';
  }
}

export function decodeDiscoveryLogHeader(b: Buffer): DiscoveryLogHeader {
  need(b, 20, 'discovery log header');
  return { genctr: b.readBigUInt64LE(0), numrec: b.readBigUInt64LE(8), recfmt: b.readUInt16LE(16) };
}

export function decodeDiscoveryLogEntry(e: Buffer): DiscoveryLogEntry {
  need(e, DISCOVERY_LOG_ENTRY_LEN, 'discovery log entry');
  return {
    trtype: e[0]!,
    adrfam: e[1]!,
    subtype: e[2]!,
    treq: e[3]!,
    portid: e.readUInt16LE(4),
    cntlid: e.readUInt16LE(6),
    asqsz: e.readUInt16LE(8),
    eflags: e.readUInt16LE(10),
    trsvcid: fixedString(e, 32, 64),
    subnqn: fixedString(e, 256, 512),
    traddr: fixedString(e, 512, 768),
    tsas: e.subarray(768, 1024),
  };
}

/** Header + NUMREC entries. The buffer must hold them all (1024 × (NUMREC + 1) bytes). */
export function decodeDiscoveryLog(b: Buffer): DiscoveryLog {
  const h = decodeDiscoveryLogHeader(b);
  if (h.numrec > BigInt(MAX_DISCOVERY_RECORDS))
    throw new MalformedError('discovery log', 'NUMREC', `${h.numrec} exceeds ${MAX_DISCOVERY_RECORDS}`);
  const n = Number(h.numrec);
  need(b, DISCOVERY_LOG_HEADER_LEN + n * DISCOVERY_LOG_ENTRY_LEN, `discovery log with ${n} records`);
  const entries: DiscoveryLogEntry[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const off = DISCOVERY_LOG_HEADER_LEN + i * DISCOVERY_LOG_ENTRY_LEN;
    entries[i] = decodeDiscoveryLogEntry(b.subarray(off, off + DISCOVERY_LOG_ENTRY_LEN));
  }
  return { ...h, entries };
}

// ------------------------------------------------------------------------------------------------ strings

const TRTYPE: Readonly<Record<number, string>> = { 0: 'unspecified', 1: 'rdma', 2: 'fc', 3: 'tcp', 254: 'loop' };
const ADRFAM: Readonly<Record<number, string>> = { 0: 'pci', 1: 'ipv4', 2: 'ipv6', 3: 'infiniband', 4: 'fc' };
const SUBTYPE: Readonly<Record<number, string>> = { 1: 'referral', 2: 'nvme', 3: 'discovery' };
/** TREQ is mapped only for these whole-byte values (libnvme), anything else prints as decimal. */
const TREQ: Readonly<Record<number, string>> = {
  0: 'not specified',
  1: 'required',
  2: 'not required',
  4: 'disable sqflow',
};
const SECTYPE: Readonly<Record<number, string>> = { 0: 'none', 1: 'tls', 2: 'tls1.3' };
const QPTYPE: Readonly<Record<number, string>> = { 1: 'connected', 2: 'datagram' };
const PRTYPE: Readonly<Record<number, string>> = {
  1: 'not specified',
  2: 'infiniband',
  3: 'roce',
  4: 'rocev2',
  5: 'iwarp',
};
const CMS: Readonly<Record<number, string>> = { 1: 'cm' };

const named = (table: Readonly<Record<number, string>>, v: number): string => table[v] ?? String(v);

export const trtypeString = (v: number): string => named(TRTYPE, v);
export const adrfamString = (v: number): string => named(ADRFAM, v);
export const subtypeString = (v: number): string => named(SUBTYPE, v);
export const treqString = (v: number): string => named(TREQ, v);

/** Python repr of the TSAS dict (libnvme ≥ 1.16), or undefined for transports that have none. */
export function tsasString(trtype: number, tsas: Buffer): string | undefined {
  if (trtype === 3) return `{'sectype': '${SECTYPE[tsas[0] ?? 0] ?? 'reserved'}'}`;
  if (trtype === 1) {
    return `{'qptype': '${named(QPTYPE, tsas[0] ?? 0)}', 'prtype': '${named(PRTYPE, tsas[1] ?? 0)}', 'cms': '${named(CMS, tsas[2] ?? 0)}'}`;
  }
  return undefined;
}

export interface DlpeOptions {
  /** add the `tsas` key as libnvme ≥ 1.16 does (nvme-stas 2.4.1 on Debian 12's libnvme 1.3 has none) */
  tsas?: boolean;
}

/**
 * The DLPE dict nvme-stas puts on D-Bus: every value a string. Key order is libnvme's (seen in nvme-stas's
 * `dlpe` strings): trtype, adrfam, traddr, trsvcid, subnqn, subtype, treq, portid, cntlid, asqsz, eflags[, tsas].
 */
export function dlpeDict(e: DiscoveryLogEntry, opts: DlpeOptions = {}): Record<string, string> {
  const d: Record<string, string> = {
    trtype: trtypeString(e.trtype),
    adrfam: adrfamString(e.adrfam),
    traddr: e.traddr,
    trsvcid: e.trsvcid,
    subnqn: e.subnqn,
    subtype: subtypeString(e.subtype),
    treq: treqString(e.treq),
    portid: String(e.portid),
    cntlid: String(e.cntlid),
    asqsz: String(e.asqsz),
    eflags: String(e.eflags),
  };
  if (opts.tsas) {
    const t = tsasString(e.trtype, e.tsas);
    if (t !== undefined) d.tsas = t;
  }
  return d;
}

// ------------------------------------------------------------------------------------------------ encoder

export interface DiscoveryLogEntryFields {
  trtype?: number;
  adrfam?: number;
  subtype?: number;
  treq?: number;
  portid?: number;
  cntlid?: number;
  asqsz?: number;
  eflags?: number;
  trsvcid: string;
  subnqn: string;
  traddr: string;
  sectype?: number;
}

/** Builds a log page (for the fake target, tests and benchmarks). */
export function encodeDiscoveryLog(genctr: bigint, entries: DiscoveryLogEntryFields[], recfmt = 0): Buffer {
  const b = Buffer.alloc(DISCOVERY_LOG_HEADER_LEN + entries.length * DISCOVERY_LOG_ENTRY_LEN);
  b.writeBigUInt64LE(genctr, 0);
  b.writeBigUInt64LE(BigInt(entries.length), 8);
  b.writeUInt16LE(recfmt, 16);
  entries.forEach((f, i) => {
    const o = DISCOVERY_LOG_HEADER_LEN + i * DISCOVERY_LOG_ENTRY_LEN;
    b[o] = f.trtype ?? 3;
    b[o + 1] = f.adrfam ?? 1;
    b[o + 2] = f.subtype ?? 2;
    b[o + 3] = f.treq ?? 0;
    b.writeUInt16LE(f.portid ?? 1, o + 4);
    b.writeUInt16LE(f.cntlid ?? 0xffff, o + 6);
    b.writeUInt16LE(f.asqsz ?? 32, o + 8);
    b.writeUInt16LE(f.eflags ?? 0, o + 10);
    // nvmet pads TRSVCID and TRADDR with spaces
    b.fill(0x20, o + 32, o + 64);
    b.write(f.trsvcid, o + 32, 32, 'latin1');
    b.write(f.subnqn, o + 256, 256, 'utf8');
    b.fill(0x20, o + 512, o + 768);
    b.write(f.traddr, o + 512, 256, 'latin1');
    b[o + 768] = f.sectype ?? 0;
  });
  return b;
}
