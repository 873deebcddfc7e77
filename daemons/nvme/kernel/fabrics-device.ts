// The kernel NVMe-oF host's control device. A connect writes one comma-separated option string to
// /dev/nvme-fabrics and reads "instance=N,cntlid=M" back from the SAME open file; the first read of a fresh open
// lists the options the kernel supports (≥ 5.17). All I/O goes through fs/promises (libuv thread pool), so a
// kernel connect that takes seconds never blocks the event loop.
import { open } from 'node:fs/promises';
import { FabricsAuthError, FabricsError, FabricsOptionError } from './errors.js';

export const FABRICS_DEVICE = '/dev/nvme-fabrics';

export interface FabricsConnectOptions {
  /** Subsystem NQN (the well-known discovery NQN for a discovery controller). */
  nqn: string;
  transport: string;
  traddr?: string;
  trsvcid?: string;
  hostTraddr?: string;
  hostIface?: string;
  hostnqn?: string;
  hostid?: string;
  /** TP8013: connect as a discovery controller (unique discovery NQN); only emitted if true. */
  discovery?: boolean;
  dhchapSecret?: string;
  dhchapCtrlSecret?: string;
  nrIoQueues?: number;
  nrWriteQueues?: number;
  nrPollQueues?: number;
  queueSize?: number;
  keepAliveTmo?: number;
  reconnectDelay?: number;
  ctrlLossTmo?: number;
  fastIoFailTmo?: number;
  tos?: number;
  duplicateConnect?: boolean;
  disableSqflow?: boolean;
  hdrDigest?: boolean;
  dataDigest?: boolean;
}

type Key = keyof FabricsConnectOptions;

/**
 * Kernel option names in libnvme's order (nqn first, then the transport identity, host identity, secrets, queue
 * and timer numbers, then flags). Observed from libnvme 1.3: `nqn=…,transport=tcp,traddr=::1,host_iface=lo,
 * trsvcid=8009,hostnqn=…,hostid=…,keep_alive_tmo=17,ctrl_loss_tmo=600`.
 */
const ORDER: ReadonlyArray<readonly [Key, string, 'str' | 'int' | 'flag']> = [
  ['nqn', 'nqn', 'str'],
  ['transport', 'transport', 'str'],
  ['traddr', 'traddr', 'str'],
  ['hostTraddr', 'host_traddr', 'str'],
  ['hostIface', 'host_iface', 'str'],
  ['trsvcid', 'trsvcid', 'str'],
  ['hostnqn', 'hostnqn', 'str'],
  ['hostid', 'hostid', 'str'],
  ['discovery', 'discovery', 'flag'],
  ['dhchapSecret', 'dhchap_secret', 'str'],
  ['dhchapCtrlSecret', 'dhchap_ctrl_secret', 'str'],
  ['nrIoQueues', 'nr_io_queues', 'int'],
  ['nrWriteQueues', 'nr_write_queues', 'int'],
  ['nrPollQueues', 'nr_poll_queues', 'int'],
  ['queueSize', 'queue_size', 'int'],
  ['keepAliveTmo', 'keep_alive_tmo', 'int'],
  ['reconnectDelay', 'reconnect_delay', 'int'],
  ['ctrlLossTmo', 'ctrl_loss_tmo', 'int'],
  ['fastIoFailTmo', 'fast_io_fail_tmo', 'int'],
  ['tos', 'tos', 'int'],
  ['duplicateConnect', 'duplicate_connect', 'flag'],
  ['disableSqflow', 'disable_sqflow', 'flag'],
  ['hdrDigest', 'hdr_digest', 'flag'],
  ['dataDigest', 'data_digest', 'flag'],
];

/** Option name → kind ('%s', '%d' or 'flag') as listed by the kernel. */
export type SupportedOptions = ReadonlyMap<string, string>;

/** Parses the kernel's option list: `instance=-1,cntlid=-1,transport=%s,…,duplicate_connect,…`. */
export function parseSupportedOptions(text: string): SupportedOptions {
  const m = new Map<string, string>();
  const first = text.split('\n')[0] ?? '';
  for (const tok of first.split(',')) {
    const t = tok.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    if (eq < 0) m.set(t, 'flag');
    else m.set(t.slice(0, eq), t.slice(eq + 1));
  }
  m.delete('instance');
  m.delete('cntlid');
  return m;
}

/**
 * The option string for a connect. Values are checked so that nothing can smuggle in another option; options the
 * kernel does not list (when `supported` is given) are refused rather than silently dropped.
 */
export function buildOptionString(o: FabricsConnectOptions, supported?: SupportedOptions): string {
  if (!o.nqn) throw new FabricsOptionError('nqn', 'missing');
  if (!o.transport) throw new FabricsOptionError('transport', 'missing');
  const parts: string[] = [];
  for (const [key, name, kind] of ORDER) {
    const v = o[key];
    if (v === undefined || v === null || v === '' || v === false) continue;
    if (supported && !supported.has(name)) throw new FabricsOptionError(name, 'not supported by this kernel');
    if (kind === 'flag') {
      if (v !== true) throw new FabricsOptionError(name, `expected a boolean, got ${JSON.stringify(v)}`);
      parts.push(name);
    } else if (kind === 'int') {
      if (typeof v !== 'number' || !Number.isInteger(v))
        throw new FabricsOptionError(name, `expected an integer, got ${JSON.stringify(v)}`);
      parts.push(`${name}=${v}`);
    } else {
      const s = String(v);
      // the kernel splits on ',' only ('=' inside a value, e.g. base64 padding of a DHHC-1 secret, is fine)
      if (/[,\s\0]/.test(s))
        throw new FabricsOptionError(
          name,
          `value ${key.startsWith('dhchap') ? '<secret>' : JSON.stringify(s)} contains ',', NUL or white space`,
        );
      parts.push(`${name}=${s}`);
    }
  }
  return parts.join(',');
}

export interface ConnectReply {
  instance: number;
  cntlid: number;
  /** `nvme<instance>` */
  device: string;
}

/** Parses `instance=3,cntlid=1\n`. */
export function parseConnectReply(text: string): ConnectReply {
  const kv = new Map<string, string>();
  for (const tok of text.trim().split(',')) {
    const eq = tok.indexOf('=');
    if (eq > 0) kv.set(tok.slice(0, eq), tok.slice(eq + 1));
  }
  const instance = Number(kv.get('instance'));
  const cntlid = Number(kv.get('cntlid'));
  if (!Number.isInteger(instance) || instance < 0 || !Number.isInteger(cntlid)) {
    throw new FabricsError('connect', 'EPROTO', `unexpected reply from ${FABRICS_DEVICE}: ${JSON.stringify(text)}`);
  }
  return { instance, cntlid, device: `nvme${instance}` };
}

/**
 * Options the running kernel accepts, from the first read of a fresh open of /dev/nvme-fabrics.
 * Undefined when the kernel cannot tell (before 5.17 the read fails with EINVAL).
 */
export async function readSupportedOptions(device = FABRICS_DEVICE): Promise<SupportedOptions | undefined> {
  let fh;
  try {
    fh = await open(device, 'r');
  } catch (e) {
    throw FabricsError.from(`open ${device}`, e);
  }
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    return parseSupportedOptions(buf.toString('utf8', 0, bytesRead));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
    throw FabricsError.from(`read ${device}`, e);
  } finally {
    await fh.close();
  }
}

export interface ConnectOptions {
  device?: string;
  /** Refuse options the kernel does not list (see readSupportedOptions). */
  supported?: SupportedOptions;
}

/** Creates a kernel controller. Errors are FabricsError (errno code + readable text) or FabricsOptionError. */
export async function fabricsConnect(o: FabricsConnectOptions, opts: ConnectOptions = {}): Promise<ConnectReply> {
  const device = opts.device ?? FABRICS_DEVICE;
  const str = buildOptionString(o, opts.supported);
  const what = `connect ${o.transport}://${o.traddr ?? ''}:${o.trsvcid ?? ''} ${o.nqn}`;
  let fh;
  try {
    fh = await open(device, 'r+');
  } catch (e) {
    throw FabricsError.from(`${what}: open ${device}`, e);
  }
  try {
    try {
      await fh.write(Buffer.from(str, 'utf8'), 0, Buffer.byteLength(str), null);
    } catch (e) {
      const err = FabricsError.from(what, e);
      // the kernel (6.12) reports a refused DH-HMAC-CHAP exchange as a plain EIO; with a key set, say so
      if (err.code === 'EIO' && o.dhchapSecret) throw new FabricsAuthError(what, err.detail);
      throw err;
    }
    const buf = Buffer.alloc(256);
    let n: number;
    try {
      n = (await fh.read(buf, 0, buf.length, null)).bytesRead;
    } catch (e) {
      throw FabricsError.from(`${what}: read reply`, e);
    }
    return parseConnectReply(buf.toString('utf8', 0, n));
  } finally {
    await fh.close();
  }
}
