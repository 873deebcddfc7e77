// Figures for the userspace NVMe/TCP host: discovery log decode cost, CRC32C throughput, and discovery round
// trips against the in-process fake target (and against the kernel nvmet target with STAS_BENCH_VM=1).
import { DISCOVERY_NQN } from '../daemons/nvme/protocol/constants.js';
import { crc32c } from '../daemons/nvme/protocol/crc32c.js';
import { decodeDiscoveryLog, dlpeDict, encodeDiscoveryLog } from '../daemons/nvme/protocol/discovery-log.js';
import { AdminSession, type SessionOptions } from '../daemons/nvme/tcp/session.js';
import { readDiscoveryLog } from '../daemons/nvme/tcp/discovery.js';
import { IoQueue } from '../daemons/nvme/tcp/io-queue.js';
import { FakeTarget } from '../test/harness/fake-target/index.js';

const HOSTID = '0b5e7c3a-1111-4222-8333-444455556666';
const HOSTNQN = `nqn.2014-08.org.nvmexpress:uuid:${HOSTID}`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function benchDecode(): void {
  const entries = Array.from({ length: 1000 }, (_, i) => ({
    subnqn: `nqn.2024-01.io.example:subsystem-${i}`,
    traddr: `10.${(i >> 8) & 255}.${i & 255}.1`,
    trsvcid: '4420',
    treq: 4,
    portid: 1 + (i % 4),
  }));
  const log = encodeDiscoveryLog(42n, entries);
  // warm-up, then timed rounds
  for (let i = 0; i < 20; i++) decodeDiscoveryLog(log).entries.map((e) => dlpeDict(e));
  const rounds = 100;
  const times: number[] = [];
  const decodeOnly: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const d = decodeDiscoveryLog(log);
    const t1 = performance.now();
    d.entries.map((e) => dlpeDict(e));
    const t2 = performance.now();
    decodeOnly.push(t1 - t0);
    times.push(t2 - t0);
  }
  console.log(
    `DLP decode, 1000 entries (1 MiB): ${((median(decodeOnly) * 1000) / 1000).toFixed(2)} µs/entry decode, ${((median(times) * 1000) / 1000).toFixed(2)} µs/entry decode + DLPE dict (median of ${rounds})`,
  );
}

function benchCrc(): void {
  const b = Buffer.alloc(1 << 20, 0x5a);
  crc32c(b);
  const t0 = performance.now();
  const n = 50;
  for (let i = 0; i < n; i++) crc32c(b);
  const ms = performance.now() - t0;
  console.log(`CRC32C: ${((n * 1) / (ms / 1000)).toFixed(0)} MiB/s`);
}

async function benchTarget(
  label: string,
  base: Omit<SessionOptions, 'subnqn'>,
  discPort: number,
  ioPort: number,
  ioNqn: string | undefined,
  runs: number,
): Promise<void> {
  const full: number[] = [];
  const logOnly: number[] = [];
  let numrec = 0n;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const s = await AdminSession.connect({ ...base, port: discPort, subnqn: DISCOVERY_NQN });
    const t1 = performance.now();
    const log = await readDiscoveryLog(s);
    const t2 = performance.now();
    numrec = log.numrec;
    await s.shutdown(2000);
    full.push(performance.now() - t0);
    logOnly.push(t2 - t1);
  }
  console.log(
    `${label}: discovery round trip (TCP + ICReq + Connect + enable + log of ${numrec} records + shutdown) median ${median(full).toFixed(2)} ms; log read alone ${median(logOnly).toFixed(2)} ms (${runs} runs)`,
  );
  if (!ioNqn) return;
  for (const dg of [false, true]) {
    const admin = await AdminSession.connect({ ...base, port: ioPort, subnqn: ioNqn, hdgst: dg, ddgst: dg });
    try {
      const ns = await admin.namespaceInfo(1);
      const io = await IoQueue.open(admin);
      const small = Buffer.alloc(4096, 1);
      const big = Buffer.alloc(65536, 2);
      const ws: number[] = [];
      const wb: number[] = [];
      for (let i = 0; i < 20; i++) {
        let t = performance.now();
        await io.write(ns, 0, small.subarray(0, ns.lbaSize));
        await io.read(ns, 0, 1);
        ws.push(performance.now() - t);
        t = performance.now();
        await io.write(ns, 16, big);
        await io.read(ns, 16, big.length / ns.lbaSize);
        wb.push(performance.now() - t);
      }
      console.log(
        `${label}: write+read ${ns.lbaSize} B in-capsule ${median(ws).toFixed(2)} ms, 64 KiB via R2T ${median(wb).toFixed(2)} ms (digests ${dg ? 'on' : 'off'}, median of 20)`,
      );
      io.close();
    } finally {
      admin.close();
    }
  }
}

export async function run(): Promise<void> {
  benchDecode();
  benchCrc();
  const t = await FakeTarget.start({});
  try {
    await benchTarget(
      'fake target',
      { host: t.host, port: t.port, hostnqn: HOSTNQN, hostid: HOSTID },
      t.port,
      t.port,
      t.subsystems[0]!.nqn,
      50,
    );
  } finally {
    await t.stop();
  }
  if (process.env.STAS_BENCH_VM === '1') {
    const { ensureTargetVm } = await import('../test/harness/target-vm/index.js');
    const vm = await ensureTargetVm();
    await benchTarget(
      'kernel nvmet (QEMU TCG)',
      { host: vm.host, port: vm.discPort, hostnqn: HOSTNQN, hostid: HOSTID },
      vm.discPort,
      vm.ioPort,
      vm.defaultSubsystems[0],
      20,
    );
  } else {
    console.log('kernel nvmet: skipped (set STAS_BENCH_VM=1 to measure against the QEMU target)');
  }
}
