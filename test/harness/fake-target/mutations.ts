// Seeded mutation of what the fake target sends, for the peer fuzz tier: each mode turns a FakeTarget into a
// differently broken peer (bit flips, truncation, wrong lengths, wrong types, garbage, impossible NUMREC, a GENCTR
// that never settles, garbage entries, a large log). `fatal` modes break every association before its first log
// page (for stafd with its default caps), so stafd must report the DC as failed, with a reason.
import type { Rng } from '../rng.js';
import type { DiscoveryLogEntryFields } from '../../../daemons/nvme/protocol/discovery-log.js';
import type { FakeTargetOptions } from './index.js';

export const MUTATION_MODES = [
  'flip',
  'truncate',
  'plen',
  'header',
  'type',
  'garbage',
  'icresp',
  'numrec-over',
  'numrec-off',
  'genctr',
  'entries',
  'large-log',
  'numrec-huge',
] as const;
export type MutationMode = (typeof MUTATION_MODES)[number];

export interface Mutation {
  mode: MutationMode;
  /** what this instance does, for failure messages */
  what: string;
  /** no association of this peer ever completes a log page read */
  fatal: boolean;
  /** options for FakeTarget.start (merge with the test's own) */
  options: Partial<FakeTargetOptions>;
}

const LOG_HEADER = 1024;
const ENTRY = 1024;

type PduMutator = NonNullable<FakeTargetOptions['mutatePdu']>;

/** Applies `fn` to the `nth` PDU of every connection (0 = the ICResp) and passes the others through. */
function atNth(nth: number, fn: (pdu: Buffer) => { bytes: Buffer; close?: boolean }): PduMutator {
  return (pdu, info) => (info.seq === nth ? fn(pdu) : { bytes: pdu });
}

/** Entries whose subtype says "referral" or "this discovery subsystem" made NVM subsystems: a mutated log must not
 *  send the host to an address nobody chose (referrals are followed). */
function noReferrals(log: Buffer): Buffer {
  for (let o = LOG_HEADER; o + ENTRY <= log.length; o += ENTRY)
    if (log[o + 2] === 1 || log[o + 2] === 3) log[o + 2] = 2;
  return log;
}

/** A broken peer of the given mode, its details drawn from `r`. */
export function mutation(mode: MutationMode, r: Rng): Mutation {
  // the PDUs of an association up to its Identify Controller reply: ICResp, Connect, property get/set, Identify
  const early = r.int(6);
  switch (mode) {
    case 'flip': {
      const p = [0.02, 0.1, 0.3][r.int(3)]!;
      return {
        mode,
        what: `1-4 bit flips in ${p * 100}% of the PDUs`,
        fatal: false,
        options: {
          mutatePdu: (pdu) => {
            if (!r.chance(p)) return { bytes: pdu };
            const b = Buffer.from(pdu);
            for (let n = 1 + r.int(4); n > 0; n--) b[r.int(b.length)]! ^= 1 << r.int(8);
            return { bytes: b };
          },
        },
      };
    }
    case 'truncate':
      return {
        mode,
        what: `PDU #${early} of every association cut short, then the connection closed`,
        fatal: true,
        options: { mutatePdu: atNth(early, (pdu) => ({ bytes: pdu.subarray(0, r.int(pdu.length)), close: true })) },
      };
    case 'plen': {
      const how = r.int(4);
      return {
        mode,
        what: `PDU #${early} of every association with a wrong PLEN (${['below the header', 'a few bytes long', '4 GiB', 'zero'][how]})`,
        fatal: true,
        options: {
          mutatePdu: atNth(early, (pdu) => {
            const b = Buffer.from(pdu);
            const plen = [Math.max(0, b[2]! - 1 - r.int(8)), pdu.length + 1 + r.int(64), 0xffffffff, 0][how]!;
            b.writeUInt32LE(plen >>> 0, 4);
            // a PLEN past the end leaves the host waiting for bytes that never come: close instead of a timeout
            return { bytes: b, close: plen > pdu.length };
          }),
        },
      };
    }
    case 'header':
      return {
        mode,
        what: `random HLEN/PDO/FLAGS in PDU #${early} of every association`,
        fatal: false,
        options: {
          mutatePdu: atNth(early, (pdu) => {
            const b = Buffer.from(pdu);
            b[1 + r.int(3)] = r.u32() & 0xff;
            return { bytes: b };
          }),
        },
      };
    case 'type':
      return {
        mode,
        what: `PDU #${early} of every association with another PDU type`,
        fatal: true,
        options: {
          mutatePdu: atNth(early, (pdu) => {
            const b = Buffer.from(pdu);
            b[0] = (b[0]! + 1 + r.int(255)) & 0xff;
            return { bytes: b };
          }),
        },
      };
    case 'garbage':
      return {
        mode,
        what: `PDU #${early} of every association replaced by random bytes, then the connection closed`,
        fatal: true,
        options: { mutatePdu: atNth(early, () => ({ bytes: r.bytes(1 + r.int(300)), close: true })) },
      };
    case 'icresp':
      return {
        mode,
        what: 'random bytes in the ICResp fields (PFV, CPDA, DGST, MAXH2CDATA)',
        fatal: false,
        options: {
          mutatePdu: atNth(0, (pdu) => {
            const b = Buffer.from(pdu);
            for (let n = 1 + r.int(4); n > 0; n--) b[8 + r.int(8)] = r.u32() & 0xff;
            return { bytes: b };
          }),
        },
      };
    case 'numrec-over':
    case 'numrec-off':
    case 'numrec-huge': {
      // over: more than a log may hold (typed error); off: a few more or fewer than there are; huge: up to the
      // maximum the host accepts, ~1 KiB of host memory per record claimed
      const value = (): bigint =>
        mode === 'numrec-over'
          ? r.pick([262145n, 2n ** 32n, 2n ** 64n - 1n, 2n ** 63n])
          : mode === 'numrec-huge'
            ? r.pick([262144n, 100000n + BigInt(r.int(162144))])
            : BigInt(r.int(40));
      const v = value();
      return {
        mode,
        what: `NUMREC ${v}`,
        // stafd refuses a log over max-log-entries (default 16384) from its header, before allocating for it
        fatal: mode !== 'numrec-off',
        options: {
          mutateLog: (log) => {
            const b = Buffer.from(log);
            b.writeBigUInt64LE(v, 8);
            return b;
          },
        },
      };
    }
    case 'genctr':
      return {
        mode,
        what: 'a new GENCTR on every read: the log never settles',
        fatal: true,
        options: {
          mutateLog: (log) => {
            const b = Buffer.from(log);
            b.writeBigUInt64LE((BigInt(r.u32()) << 32n) | BigInt(r.u32()), 0);
            return b;
          },
        },
      };
    case 'entries': {
      const n = 1 + r.int(200);
      return {
        mode,
        what: `${n} random bytes in the entries on every read`,
        fatal: false,
        options: {
          mutateLog: (log) => {
            const b = Buffer.from(log);
            if (b.length <= LOG_HEADER) return b;
            for (let k = 0; k < n; k++) b[LOG_HEADER + r.int(b.length - LOG_HEADER)] = r.u32() & 0xff;
            return noReferrals(b);
          },
        },
      };
    }
    case 'large-log': {
      const n = 500 + r.int(3000);
      return { mode, what: `a valid log of ${n} entries`, fatal: false, options: { discoveryEntries: largeLog(n, r) } };
    }
  }
}

function largeLog(n: number, r: Rng): DiscoveryLogEntryFields[] {
  return Array.from({ length: n }, (_, i) => ({
    subtype: 2,
    subnqn: `nqn.2024-01.io.example:fuzz-${i}-${r.u32().toString(36)}`,
    traddr: `127.0.${(i >> 8) & 0xff}.${i & 0xff}`,
    trsvcid: String(1024 + r.int(60000)),
    treq: r.int(8),
  }));
}
