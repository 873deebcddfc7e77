// Reading a discovery log page consistently: header, then the whole log in chunks, re-read while GENCTR changes,
// and the LAST read always with RAE=0 so the target unmasks the Discovery Log Page Change notice (see the trap
// in nvme-tcp.md: with RAE=1 on the last read, every later AEN is silently lost).
import { DISCOVERY_LOG_ENTRY_LEN, DISCOVERY_LOG_HEADER_LEN, LogPageId } from '../protocol/constants.js';
import {
  MAX_DISCOVERY_RECORDS,
  DiscoveryLogTooLargeError,
  decodeDiscoveryLog,
  decodeDiscoveryLogHeader,
  dlpeDict,
  type DiscoveryLog,
  type DlpeOptions,
} from '../protocol/discovery-log.js';
import { NvmeTcpError } from './errors.js';
import type { AdminSession } from './session.js';

export interface ReadDiscoveryLogOptions {
  /** Log Specific Parameter for LID 0x70 (e.g. PLEO = 0x2); default 0 */
  lsp?: number;
  /** largest single Get Log Page transfer, bytes (multiple of 4); default 64 KiB */
  chunkBytes?: number;
  /** how many times to start over when GENCTR moved during the read; default 10 */
  maxAttempts?: number;
  /** refuse (DiscoveryLogTooLargeError) a log with more records, before allocating for them; default and ceiling MAX_DISCOVERY_RECORDS */
  maxRecords?: number;
}

export interface DiscoveryLogResult extends DiscoveryLog {
  /** the log page bytes (header + entries) */
  raw: Buffer;
  /** reads needed until GENCTR was stable */
  attempts: number;
  /** Get Log Page commands issued */
  commands: number;
}

export class DiscoveryLogUnstableError extends NvmeTcpError {
  constructor(label: string, attempts: number) {
    super('protocol', `${label}: discovery log kept changing (GENCTR moved on each of ${attempts} reads)`);
  }
}

export async function readDiscoveryLog(
  session: AdminSession,
  opts: ReadDiscoveryLogOptions = {},
): Promise<DiscoveryLogResult> {
  const lsp = opts.lsp ?? 0;
  const chunk = Math.max(DISCOVERY_LOG_HEADER_LEN, (opts.chunkBytes ?? 64 * 1024) & ~3);
  const maxAttempts = opts.maxAttempts ?? 10;
  const maxRecords = Math.min(opts.maxRecords ?? MAX_DISCOVERY_RECORDS, MAX_DISCOVERY_RECORDS);
  let commands = 0;
  const read = (offset: number, length: number, rae: boolean): Promise<Buffer> => {
    commands++;
    return session.getLogPage({ lid: LogPageId.Discovery, offset, length, lsp, rae });
  };

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const head = await read(0, DISCOVERY_LOG_HEADER_LEN, true);
    const h = decodeDiscoveryLogHeader(head);
    if (h.numrec > BigInt(maxRecords)) {
      // refused from the header alone, after clearing RAE so AENs keep flowing
      await read(0, DISCOVERY_LOG_HEADER_LEN, false);
      if (maxRecords === MAX_DISCOVERY_RECORDS) decodeDiscoveryLog(head); // the decoder's typed error
      throw new DiscoveryLogTooLargeError(h.numrec, maxRecords);
    }
    const total = DISCOVERY_LOG_HEADER_LEN + Number(h.numrec) * DISCOVERY_LOG_ENTRY_LEN;
    let raw: Buffer;
    let genctrAfter: bigint;
    if (total <= chunk) {
      // one read of the whole log, RAE=0: its own GENCTR tells whether the log moved since the header read
      raw = await read(0, total, false);
      genctrAfter = decodeDiscoveryLogHeader(raw).genctr;
      if (decodeDiscoveryLogHeader(raw).numrec !== h.numrec) genctrAfter = h.genctr + 1n;
    } else {
      raw = Buffer.allocUnsafe(total);
      head.copy(raw, 0);
      for (let off = DISCOVERY_LOG_HEADER_LEN; off < total; off += chunk) {
        const len = Math.min(chunk, total - off);
        (await read(off, len, true)).copy(raw, off);
      }
      // the final read: the header again, RAE=0
      genctrAfter = decodeDiscoveryLogHeader(await read(0, DISCOVERY_LOG_HEADER_LEN, false)).genctr;
    }
    if (genctrAfter === h.genctr) {
      return { ...decodeDiscoveryLog(raw), raw, attempts: attempt, commands };
    }
  }
  throw new DiscoveryLogUnstableError(session.label, maxAttempts);
}

/** The log's entries as nvme-stas DLPE dicts. */
export function discoveryLogDicts(log: DiscoveryLog, opts?: DlpeOptions): Record<string, string>[] {
  return log.entries.map((e) => dlpeDict(e, opts));
}
