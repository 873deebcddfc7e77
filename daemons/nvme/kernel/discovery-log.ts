// The discovery log page (LID 0x70) of a kernel discovery controller, fetched with nvme-cli as raw bytes and
// decoded by the shared protocol decoder.
//
// The RAE trap (nvme-tcp.md): the discovery-change AEN stays masked until log 0x70 is read with RAE=0. nvme-cli 2.3
// on libnvme 1.3 reads in 4 KiB chunks and keeps RAE set when the log is longer than that, so the fetch ends with
// a single-chunk 1024-byte header read without --rae (RAE=0), which re-arms the AEN; if its generation counter
// differs from the one just read, the log changed meanwhile and is fetched again (bounded).
import { execa } from 'execa';
import {
  MAX_DISCOVERY_RECORDS,
  DiscoveryLogTooLargeError,
  decodeDiscoveryLog,
  decodeDiscoveryLogHeader,
  type DiscoveryLog,
} from '../protocol/discovery-log.js';
import { DISCOVERY_LOG_ENTRY_LEN, DISCOVERY_LOG_HEADER_LEN } from '../protocol/constants.js';
import { FabricsError } from './errors.js';

export interface KernelLogOptions {
  /** nvme-cli binary, default 'nvme'. */
  nvme?: string;
  /** Bound per nvme-cli call, default 10 s. */
  timeoutMs?: number;
  /** Log-specific field (e.g. 0x02 PLEO), default 0. */
  lsp?: number;
  /** Give up after this many generation-counter changes during one fetch, default 5. */
  maxAttempts?: number;
  /** refuse (DiscoveryLogTooLargeError) a log with more records, before reading it; default and ceiling MAX_DISCOVERY_RECORDS */
  maxRecords?: number;
}

/** Runs `nvme get-log /dev/<device> --log-id=0x70 --log-len=<len> -b` and returns the raw bytes. */
async function getLogRaw(device: string, len: number, rae: boolean, o: KernelLogOptions): Promise<Buffer> {
  if (!/^nvme\d+$/.test(device)) throw new FabricsError(`get-log ${device}`, 'EINVAL', 'not a controller name (nvmeN)');
  const args = ['get-log', `/dev/${device}`, '--log-id=0x70', `--log-len=${len}`, '--raw-binary'];
  if (o.lsp) args.push(`--lsp=${o.lsp}`);
  if (rae) args.push('--rae');
  const r = await execa(o.nvme ?? 'nvme', args, {
    encoding: 'buffer',
    reject: false,
    timeout: o.timeoutMs ?? 10_000,
    stdin: 'ignore',
  });
  const stdout = Buffer.from(r.stdout);
  if (r.exitCode !== 0 || r.timedOut) {
    const err = Buffer.from(r.stderr).toString('utf8').trim();
    const why = r.timedOut ? `timed out after ${o.timeoutMs ?? 10_000} ms` : `exit ${r.exitCode}: ${err}`;
    throw new FabricsError(
      `get discovery log of ${device}`,
      r.timedOut ? 'ETIMEDOUT' : 'EIO',
      `nvme ${args.join(' ')}: ${why}`,
    );
  }
  if (stdout.length < len) {
    throw new FabricsError(
      `get discovery log of ${device}`,
      'EIO',
      `nvme get-log returned ${stdout.length} of ${len} bytes`,
    );
  }
  return stdout.subarray(0, len);
}

/** The complete discovery log page of kernel controller `device` (e.g. 'nvme0'), leaving the AEN re-armed. */
export async function getKernelDiscoveryLog(device: string, opts: KernelLogOptions = {}): Promise<DiscoveryLog> {
  const attempts = opts.maxAttempts ?? 5;
  // header with RAE=1: a change notice that arrives now must stay pending until the final read
  let hdr = decodeDiscoveryLogHeader(await getLogRaw(device, DISCOVERY_LOG_HEADER_LEN, true, opts));
  const maxRecords = Math.min(opts.maxRecords ?? MAX_DISCOVERY_RECORDS, MAX_DISCOVERY_RECORDS);
  for (let i = 0; i < attempts; i++) {
    if (hdr.numrec > BigInt(maxRecords)) {
      // refused from the header: nvme-cli would otherwise allocate (and we buffer) up to 256 MiB; RAE=0 re-arms the AEN
      await getLogRaw(device, DISCOVERY_LOG_HEADER_LEN, false, opts);
      throw new DiscoveryLogTooLargeError(hdr.numrec, maxRecords);
    }
    const len = DISCOVERY_LOG_HEADER_LEN + Number(hdr.numrec) * DISCOVERY_LOG_ENTRY_LEN;
    const raw = await getLogRaw(device, len, true, opts);
    const inFull = decodeDiscoveryLogHeader(raw);
    if (inFull.numrec !== hdr.numrec) {
      hdr = inFull; // changed between the header and the full read: read again with the new length
      continue;
    }
    const log = decodeDiscoveryLog(raw);
    // final read: RAE=0 re-arms the discovery-change AEN; same GENCTR → nothing changed in between
    const after = decodeDiscoveryLogHeader(await getLogRaw(device, DISCOVERY_LOG_HEADER_LEN, false, opts));
    if (after.genctr === log.genctr) return log;
    hdr = after;
  }
  throw new FabricsError(`get discovery log of ${device}`, 'EAGAIN', `log kept changing during ${attempts} attempts`);
}
