// Discovery log entries as stafd serves them (§1.7): nvme-stas's DLPE dicts, minus the entries nvme-stas drops
// (traddr 0.0.0.0, :: or empty) and minus entries whose fields are garbage. A garbage entry is one a client could
// not use or even print safely: text fields with control or non-ASCII bytes, or an IP entry (tcp/rdma with
// adrfam ipv4/ipv6) whose traddr is not an address of that family or whose trsvcid is not a port. nvme-stas would
// pass those on as str(); stas drops them, counts them and says why, once per log page read.
import { isIP } from 'node:net';
import { dlpeDict, type DiscoveryLogEntry } from '../nvme/protocol/discovery-log.js';

import type { Dlpe } from '../controllers/dlpe.js';

export type { Dlpe };

export interface DlpeFilterResult {
  entries: Dlpe[];
  /** entries dropped because their fields are garbage, with the reason */
  malformed: { index: number; reason: string }[];
  /** entries dropped as nvme-stas does (no usable traddr) */
  unusable: number;
}

const PRINTABLE = /^[\x20-\x7e]*$/;
const TRTYPE_RDMA = 1;
const TRTYPE_TCP = 3;
const ADRFAM_IPV4 = 1;
const ADRFAM_IPV6 = 2;

/** Why an entry is garbage, or undefined when it is usable. */
export function malformedReason(e: DiscoveryLogEntry): string | undefined {
  for (const [name, v] of [
    ['traddr', e.traddr],
    ['trsvcid', e.trsvcid],
    ['subnqn', e.subnqn],
  ] as const) {
    if (!PRINTABLE.test(v)) return `${name} holds non-printable bytes (${JSON.stringify(v).slice(0, 60)})`;
  }
  const ipTransport = e.trtype === TRTYPE_TCP || e.trtype === TRTYPE_RDMA;
  if (ipTransport && (e.adrfam === ADRFAM_IPV4 || e.adrfam === ADRFAM_IPV6)) {
    const want = e.adrfam === ADRFAM_IPV4 ? 4 : 6;
    if (e.traddr !== '' && isIP(e.traddr) !== want) return `traddr "${e.traddr}" is not an IPv${want} address`;
    if (e.trsvcid !== '' && !/^\d{1,5}$/.test(e.trsvcid)) return `trsvcid "${e.trsvcid}" is not a port number`;
    if (e.trsvcid !== '' && Number(e.trsvcid) > 65535) return `trsvcid "${e.trsvcid}" is out of range`;
  }
  if (e.subtype !== 3 && e.subnqn === '') return 'subnqn is empty';
  return undefined;
}

const UNUSABLE_TRADDR = new Set(['0.0.0.0', '::', '']);

/** Entries to dicts, in log order. Never throws. */
export function filterDiscoveryEntries(
  entries: readonly DiscoveryLogEntry[],
  opts: { tsas?: boolean } = {},
): DlpeFilterResult {
  const out: Dlpe[] = [];
  const malformed: { index: number; reason: string }[] = [];
  let unusable = 0;
  entries.forEach((e, index) => {
    const why = malformedReason(e);
    if (why) {
      malformed.push({ index, reason: why });
      return;
    }
    if (UNUSABLE_TRADDR.has(e.traddr.trim())) {
      unusable++;
      return;
    }
    const d = dlpeDict(e, opts);
    for (const k of Object.keys(d)) d[k] = d[k]!.trim();
    out.push(d);
  });
  return { entries: out, malformed, unusable };
}

/** The referral entries of a log page (subtype "referral"). */
export function referralEntries(pages: readonly Dlpe[]): Dlpe[] {
  return pages.filter((p) => p.subtype === 'referral');
}
