// `stasadm connect-test`: connect to an NVM subsystem with the userspace NVMe/TCP host, list its namespaces and
// optionally check the data path on the last block of namespace 1 (read only, or — with the explicit
// destructive flag — write a pattern, read it back, then put the original contents back).
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { EXIT_CODES } from '../../daemons/nvme/tcp/errors.js';
import { IoQueue } from '../../daemons/nvme/tcp/io-queue.js';
import { AdminSession, type NamespaceInfo } from '../../daemons/nvme/tcp/session.js';
import {
  EXIT_CODE_HELP,
  UsageError,
  addCommonOptions,
  processIo,
  reportFailure,
  sessionOptionsFrom,
  type CommonCliOptions,
  type Io,
} from './discover.js';

export interface ConnectTestCliOptions extends CommonCliOptions {
  nqn?: string;
  readVerify?: boolean;
  writeVerify?: boolean;
}

interface VerifyResult {
  nsid: number;
  lba: string;
  bytes: number;
  mode: 'read' | 'write';
  ok: boolean;
  ms: number;
}

function humanSize(bytes: bigint): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Number(bytes);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(2)} ${units[i]}`;
}

export async function runConnectTest(o: ConnectTestCliOptions, io: Io = processIo): Promise<number> {
  let admin: AdminSession | undefined;
  let ioq: IoQueue | undefined;
  try {
    const base = sessionOptionsFrom(o);
    if (!o.nqn) throw new UsageError('-n/--nqn (subsystem NQN) is required');
    const t0 = performance.now();
    admin = await AdminSession.connect({ ...base, subnqn: o.nqn });
    const connectMs = performance.now() - t0;
    const idc = await admin.identifyController();
    const namespaces: NamespaceInfo[] = [];
    for (const nsid of await admin.activeNamespaces()) namespaces.push(await admin.namespaceInfo(nsid));

    let verify: VerifyResult | undefined;
    if (o.readVerify || o.writeVerify) {
      const ns = namespaces.find((n) => n.nsid === 1) ?? namespaces[0];
      if (!ns) throw new UsageError(`${o.nqn} has no active namespace to verify`);
      ioq = await IoQueue.open(admin, { identify: idc });
      const last = ns.blocks - 1n;
      const v0 = performance.now();
      let ok: boolean;
      if (o.writeVerify) {
        const original = await ioq.read(ns, last, 1);
        const pattern = randomBytes(ns.lbaSize);
        await ioq.write(ns, last, pattern);
        const back = await ioq.read(ns, last, 1);
        ok = back.equals(pattern);
        await ioq.write(ns, last, original);
      } else {
        // read-only check: the same block read twice must come back identical
        const a = await ioq.read(ns, last, 1);
        const b = await ioq.read(ns, last, 1);
        ok = a.length === ns.lbaSize && a.equals(b);
      }
      verify = {
        nsid: ns.nsid,
        lba: last.toString(),
        bytes: ns.lbaSize,
        mode: o.writeVerify ? 'write' : 'read',
        ok,
        ms: performance.now() - v0,
      };
    }

    if (o.json) {
      io.out(
        JSON.stringify(
          {
            subnqn: idc.subnqn,
            cntlid: admin.cntlid,
            model: idc.mn,
            serial: idc.sn,
            firmware: idc.fr,
            digests: { header: admin.queue.hdgst, data: admin.queue.ddgst },
            connectMs: Math.round(connectMs * 10) / 10,
            namespaces: namespaces.map((n) => ({
              nsid: n.nsid,
              blocks: n.blocks.toString(),
              lbaSize: n.lbaSize,
              sizeBytes: n.sizeBytes.toString(),
              uuid: n.uuid ?? null,
              nguid: n.nguid ?? null,
            })),
            verify: verify ?? null,
          },
          null,
          2,
        ),
      );
    } else {
      io.out(
        `connected to ${idc.subnqn} at ${admin.label}: cntlid ${admin.cntlid}, model "${idc.mn}", serial "${idc.sn}", firmware "${idc.fr}" (${connectMs.toFixed(1)} ms)`,
      );
      io.out(`${'NSID'.padEnd(6)}${'SIZE'.padEnd(12)}${'LBA'.padEnd(7)}${'BLOCKS'.padEnd(12)}UUID`);
      for (const n of namespaces)
        io.out(
          `${String(n.nsid).padEnd(6)}${humanSize(n.sizeBytes).padEnd(12)}${String(n.lbaSize).padEnd(7)}${n.blocks.toString().padEnd(12)}${n.uuid ?? '-'}`,
        );
      if (verify)
        io.out(
          `${verify.mode === 'write' ? 'write+read' : 'read'} verify of NSID ${verify.nsid} LBA ${verify.lba} (${verify.bytes} bytes): ${verify.ok ? 'OK' : 'MISMATCH'} (${verify.ms.toFixed(1)} ms)`,
        );
    }
    ioq?.close();
    await admin.shutdown(2000);
    if (verify && !verify.ok) {
      io.err(`stasadm connect-test: data verification failed on NSID ${verify.nsid} LBA ${verify.lba}`);
      return EXIT_CODES.other;
    }
    return EXIT_CODES.ok;
  } catch (e) {
    ioq?.close();
    admin?.close();
    return reportFailure(io, 'connect-test', e);
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('connect-test')
    .description(
      'Connect to an NVMe/TCP subsystem (userspace host), list its namespaces, optionally verify the data path',
    );
  addCommonOptions(cmd, 4420)
    .option('-n, --nqn <SUBNQN>', 'subsystem NQN to connect to (required)')
    .option('--read-verify', 'read the last block of namespace 1 twice and compare (non-destructive)')
    .option(
      '--write-verify',
      'DESTRUCTIVE: write a random pattern to the last block of namespace 1, read it back, then restore the old contents',
    )
    .addHelpText('after', EXIT_CODE_HELP)
    .action(async (opts: ConnectTestCliOptions) => {
      process.exitCode = await runConnectTest(opts);
    });
}
