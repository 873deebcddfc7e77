// `stasadm discover`: read a discovery controller's log page with the userspace NVMe/TCP host, like
// `nvme discover` but with no kernel module and no root. Also holds the option/exit-code plumbing that
// `stasadm connect-test` shares.
import { Command, Option } from 'commander';
import { DISCOVERY_NQN } from '../../daemons/nvme/protocol/constants.js';
import { dlpeDict, type DiscoveryLogEntry } from '../../daemons/nvme/protocol/discovery-log.js';
import { readDiscoveryLog } from '../../daemons/nvme/tcp/discovery.js';
import { EXIT_CODES, NvmeTcpError, exitCodeFor } from '../../daemons/nvme/tcp/errors.js';
import { defaultHostIdentity } from '../../daemons/nvme/tcp/host-identity.js';
import { AdminSession, type SessionOptions } from '../../daemons/nvme/tcp/session.js';

export const EXIT_CODE_HELP = `
Exit codes:
  0  success
  1  other failure (connection dropped, target terminated the connection)
  2  usage error (bad option or value)
  3  target unreachable, or no reply in time (TCP connect / ICResp / command timeout)
  4  connection refused (nothing listening on ADDR:PORT)
  5  the peer is not an NVMe/TCP target (no or bad ICResp, malformed PDUs)
  6  the target answered with an NVMe error status (e.g. Connect rejected: unknown NQN, host not allowed)`;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const processIo: Io = {
  out: (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
};

/** Raw commander values of the options both commands share. */
export interface CommonCliOptions {
  transport?: string;
  traddr?: string;
  trsvcid?: string;
  hostnqn?: string;
  hostid?: string;
  hdrDigest?: boolean;
  dataDigest?: boolean;
  timeout?: string;
  json?: boolean;
}

export class UsageError extends NvmeTcpError {
  constructor(message: string) {
    super('usage', message);
  }
}

export function addCommonOptions(cmd: Command, defaultPort: number): Command {
  return cmd
    .addOption(new Option('-t, --transport <TRTYPE>', 'transport type (only tcp)').default('tcp'))
    .requiredOption('-a, --traddr <ADDR>', 'target address (IPv4, IPv6 or host name)')
    .addOption(new Option('-s, --trsvcid <PORT>', 'target TCP port').default(String(defaultPort)))
    .option('-q, --hostnqn <NQN>', 'host NQN (default: /etc/nvme/hostnqn, else a generated one)')
    .option('--hostid <UUID>', 'host ID (default: /etc/nvme/hostid, else from the host NQN or random)')
    .option('--hdr-digest', 'ask for PDU header digests (CRC32C)')
    .option('--data-digest', 'ask for PDU data digests (CRC32C)')
    .addOption(new Option('--timeout <MS>', 'bound on the TCP connect and on every reply, ms').default('5000'))
    .option('--json', 'print JSON');
}

/** Validates the shared options and turns them into session options (without subnqn). */
export function sessionOptionsFrom(o: CommonCliOptions): Omit<SessionOptions, 'subnqn'> {
  if ((o.transport ?? 'tcp').toLowerCase() !== 'tcp')
    throw new UsageError(`transport "${o.transport}" is not supported (only tcp)`);
  const host = (o.traddr ?? '').trim().replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new UsageError('-a/--traddr is empty');
  const port = Number(o.trsvcid);
  if (!/^\d+$/.test(o.trsvcid ?? '') || port < 1 || port > 65535)
    throw new UsageError(`-s/--trsvcid "${o.trsvcid}" is not a TCP port (1..65535)`);
  const timeout = Number(o.timeout ?? '5000');
  if (!Number.isInteger(timeout) || timeout < 100 || timeout > 600_000)
    throw new UsageError(`--timeout "${o.timeout}" must be an integer number of ms in 100..600000`);
  const def = defaultHostIdentity();
  const hostnqn = o.hostnqn ?? def.hostnqn;
  if (!hostnqn.startsWith('nqn.') || Buffer.byteLength(hostnqn) > 223)
    throw new UsageError(`host NQN "${hostnqn}" is not an NQN (nqn.…, at most 223 bytes)`);
  const hostid =
    o.hostid ??
    (o.hostnqn
      ? (hostnqn.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i)?.[0] ?? def.hostid)
      : def.hostid);
  if (!/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(hostid))
    throw new UsageError(`--hostid "${hostid}" is not a UUID`);
  return {
    host,
    port,
    hostnqn,
    hostid,
    hdgst: !!o.hdrDigest,
    ddgst: !!o.dataDigest,
    connectTimeoutMs: timeout,
    icTimeoutMs: timeout,
    commandTimeoutMs: timeout,
  };
}

/** Prints one line naming what failed and returns the exit code of its class. */
export function reportFailure(io: Io, command: string, e: unknown): number {
  const msg = e instanceof Error ? e.message : String(e);
  io.err(`stasadm ${command}: ${msg}`);
  return exitCodeFor(e);
}

// ------------------------------------------------------------------------------------------------ discover

const SUBTYPE_TEXT: Readonly<Record<string, string>> = {
  referral: 'referral (discovery subsystem)',
  nvme: 'nvme subsystem',
  discovery: 'current discovery subsystem',
};

function eflagsText(v: number): string {
  const f: string[] = [];
  if (v & 1) f.push('duplicate returned information');
  if (v & 2) f.push('explicit persistent connection');
  if (v & 4) f.push('no cdc connectivity');
  if (v & ~7) f.push(`0x${(v & ~7).toString(16)}`);
  return f.length ? f.join(', ') : 'none';
}

export function formatEntry(i: number, e: DiscoveryLogEntry): string {
  const d = dlpeDict(e, { tsas: true });
  const rows: [string, string][] = [
    ['trtype', d.trtype!],
    ['adrfam', d.adrfam!],
    ['subtype', SUBTYPE_TEXT[d.subtype!] ?? d.subtype!],
    ['treq', d.treq!],
    ['portid', d.portid!],
    ['trsvcid', d.trsvcid!],
    ['subnqn', d.subnqn!],
    ['traddr', d.traddr!],
    ['cntlid', d.cntlid!],
    ['asqsz', d.asqsz!],
    ['eflags', eflagsText(e.eflags)],
  ];
  if (d.tsas) rows.push(['tsas', d.tsas]);
  return [`=====Discovery Log Entry ${i}======`, ...rows.map(([k, v]) => `${`${k}:`.padEnd(9)}${v}`)].join('\n');
}

export interface DiscoverCliOptions extends CommonCliOptions {
  nqn?: string;
  kato?: string;
  lsp?: string;
}

export async function runDiscover(o: DiscoverCliOptions, io: Io = processIo): Promise<number> {
  let session: AdminSession | undefined;
  try {
    const base = sessionOptionsFrom(o);
    const lsp = o.lsp === undefined ? 0 : Number(o.lsp);
    if (!Number.isInteger(lsp) || lsp < 0 || lsp > 127) throw new UsageError(`--lsp "${o.lsp}" must be 0..127`);
    const kato = o.kato === undefined ? 0 : Number(o.kato);
    if (!Number.isInteger(kato) || kato < 0) throw new UsageError(`--kato "${o.kato}" must be a number of ms ≥ 0`);
    session = await AdminSession.connect({ ...base, subnqn: o.nqn ?? DISCOVERY_NQN, katoMs: kato });
    const log = await readDiscoveryLog(session, { lsp });
    if (o.json) {
      const safe = (v: bigint): number | string => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString());
      io.out(
        JSON.stringify(
          {
            genctr: safe(log.genctr),
            numrec: safe(log.numrec),
            recfmt: log.recfmt,
            entries: log.entries.map((e) => dlpeDict(e)),
          },
          null,
          2,
        ),
      );
    } else {
      io.out(`\nDiscovery Log Number of Records ${log.numrec}, Generation counter ${log.genctr}`);
      log.entries.forEach((e, i) => io.out(formatEntry(i, e)));
    }
    await session.shutdown(2000);
    return EXIT_CODES.ok;
  } catch (e) {
    session?.close();
    return reportFailure(io, 'discover', e);
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('discover')
    .description(
      'Read the discovery log page of an NVMe/TCP discovery controller (userspace host: no kernel module, no root)',
    );
  addCommonOptions(cmd, 8009)
    .option('-n, --nqn <NQN>', 'discovery subsystem NQN', DISCOVERY_NQN)
    .option('--kato <MS>', 'keep-alive timeout sent in Connect, ms (0: none)', '0')
    .option('--lsp <N>', 'Log Specific Parameter of Get Log Page 0x70 (e.g. 2 = port-local entries only)')
    .addHelpText('after', EXIT_CODE_HELP)
    .action(async (opts: DiscoverCliOptions) => {
      process.exitCode = await runDiscover(opts);
    });
}
