// TXT records of `_nvme-disc._tcp|udp` services (TP8009), parsed exactly as nvme-stas does (spec §4.5).
import { log } from '../common/log.js';

export const WELL_KNOWN_DISC_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

export type ZeroconfTransport = 'tcp' | 'rdma';

/** Why a single TXT record was ignored. */
export type TxtRecordProblem = 'non-printable' | 'not key=value' | 'empty key';

export interface TxtParseResult {
  /** lower-cased key → value as sent (later records win, as with a Python dict) */
  fields: Record<string, string>;
  /** one entry per ignored record */
  problems: { record: string; problem: TxtRecordProblem }[];
}

/**
 * nvme-stas builds each record's text with chr() per byte (Latin-1) and keeps it only if Python's
 * str.isprintable() is true. For code points 0..255 that means: 0x20..0x7E, and 0xA1..0xFF except
 * 0xAD (soft hyphen, category Cf); 0x00..0x1F, 0x7F..0xA0 (controls and NBSP) are not printable.
 */
function isPrintableLatin1(byte: number): boolean {
  if (byte >= 0x20 && byte <= 0x7e) return true;
  return byte >= 0xa1 && byte !== 0xad;
}

/** Visible form of a record for logs: printable ASCII as is, everything else \xNN. */
export function describeRecord(record: Uint8Array): string {
  let s = '';
  for (const b of record)
    s += b >= 0x20 && b <= 0x7e && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return s.length > 200 ? `${s.slice(0, 200)}…(${record.length} bytes)` : s;
}

/** Records (as received from Avahi `aay` or a DNS TXT rdata) → key/value fields. Never throws. */
export function parseTxtRecords(records: readonly Uint8Array[]): TxtParseResult {
  const fields: Record<string, string> = {};
  const problems: TxtParseResult['problems'] = [];
  for (const record of records) {
    if (!record.every(isPrintableLatin1)) {
      problems.push({ record: describeRecord(record), problem: 'non-printable' });
      continue;
    }
    const text = Buffer.from(record).toString('latin1');
    const parts = text.split('=');
    if (parts.length !== 2) {
      problems.push({ record: describeRecord(record), problem: 'not key=value' });
      continue;
    }
    const [key, value] = parts as [string, string];
    if (key === '') {
      problems.push({ record: describeRecord(record), problem: 'empty key' });
      continue;
    }
    fields[key.toLowerCase()] = value;
  }
  return { fields, problems };
}

/** `p=` → transport: tcp → tcp; roce, iwarp, rdma → rdma; anything else (or absent) → undefined. */
export function protocolToTransport(p: string | undefined): ZeroconfTransport | undefined {
  if (p === undefined) return undefined;
  const proto = p.trim().toLowerCase();
  if (proto === 'tcp') return 'tcp';
  if (proto === 'roce' || proto === 'iwarp' || proto === 'rdma') return 'rdma';
  return undefined;
}

/** `nqn=` is honoured only when the kernel supports the `discovery` connect option (TP8013). */
export function subsysnqnFromTxt(fields: Record<string, string>, kernelSupportsDiscovery: boolean): string {
  if (!kernelSupportsDiscovery) return WELL_KNOWN_DISC_NQN;
  return (fields.nqn ?? WELL_KNOWN_DISC_NQN).trim();
}

/** Python repr of a str→str dict, as nvme-stas prints the TXT dict in its logs. */
export function pyDictRepr(d: Record<string, string>): string {
  const q = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `{${Object.entries(d)
    .map(([k, v]) => `${q(k)}: ${q(v)}`)
    .join(', ')}}`;
}

export interface TxtIdentity {
  transport: ZeroconfTransport;
  subsysnqn: string;
}

export interface TxtContext {
  address: string;
  ifname: string;
  kernelSupportsDiscovery: boolean;
}

/** Outcome of interpreting one service's TXT: an identity, or the reason it is ignored. */
export type TxtInterpretation =
  | { ok: true; identity: TxtIdentity; fields: Record<string, string>; badRecords: number }
  | { ok: false; fields: Record<string, string>; badRecords: number };

/**
 * Full interpretation of a resolved service's TXT, with nvme-stas's logging: ignored records at debug,
 * a missing/invalid `p=` as the error nvme-stas logs (the service is then ignored).
 */
export function interpretTxt(records: readonly Uint8Array[], ctx: TxtContext): TxtInterpretation {
  const { fields, problems } = parseTxtRecords(records);
  for (const p of problems)
    log().debug({ record: p.record, problem: p.problem }, `Ignoring mDNS TXT record "${p.record}": ${p.problem}`);
  const transport = protocolToTransport(fields.p);
  if (transport === undefined) {
    log().error(
      `Received invalid/undefined protocol in mDNS TXT field: address=${ctx.address}, iface=${ctx.ifname}, TXT=${pyDictRepr(fields)}`,
    );
    return { ok: false, fields, badRecords: problems.length };
  }
  return {
    ok: true,
    identity: { transport, subsysnqn: subsysnqnFromTxt(fields, ctx.kernelSupportsDiscovery) },
    fields,
    badRecords: problems.length,
  };
}
