// Figures for stacd's connector: one reconcile (desired state + plan) of 10,000 desired I/O controllers against
// 10,000 existing ones (CPU time, heap allocated), and, with STAS_BENCH_VM=1, the time from a subsystem being
// linked on the kernel target (its AEN) to stacd holding a connected I/O controller for it (real stafd + stacd).
import { randomBytes } from 'node:crypto';
import { TID, type TidContext } from '../daemons/common/tid.js';
import { computeDesiredState, type LearnedIoc } from '../daemons/connector/desired-state.js';
import { planReconcile, planSummary, type ForeignIoc, type TrackedIoc } from '../daemons/connector/planner.js';
import type { InterfaceInfo } from '../daemons/nvme/kernel/match.js';

const HOST = 'nqn.2014-08.org.nvmexpress:uuid:0b5e7c3a-1111-4222-8333-444455556666';
const ctx: TidContext = { ignoreIface: false, hostNqn: HOST };
const ifs: InterfaceInfo = { ifaceOfAddress: () => undefined, primaryAddressOf: () => undefined };
const N = 10_000;

function learned(i: number): LearnedIoc {
  const traddr = `10.${(i >> 8) & 255}.${i & 255}.1`;
  const subnqn = `nqn.2024-01.io.example:subsystem-${i}`;
  const tid = TID.fromCid(
    [
      ['transport', 'tcp'],
      ['traddr', traddr],
      ['trsvcid', '4420'],
      ['subsysnqn', subnqn],
    ],
    ctx,
  );
  return {
    tid,
    via: '(tcp, 10.255.255.1, 8009)',
    dlpe: {
      trtype: 'tcp',
      adrfam: 'ipv4',
      traddr,
      trsvcid: '4420',
      subnqn,
      subtype: 'nvme',
      treq: 'not specified',
      portid: '1',
      cntlid: '65535',
      asqsz: '32',
      eflags: '0',
    },
  };
}

function benchReconcile(): void {
  // desired: 0..N-1; tracked: N/2..N/2+N-1 (half kept, half to disconnect); foreign kernel controllers for 0..N/2-1
  // (adopted) — 10,000 desired against 10,000 existing plus 5,000 foreign ones to match
  const all = Array.from({ length: N + N / 2 }, (_, i) => learned(i));
  const tracked = new Map<string, TrackedIoc>();
  for (let i = N / 2; i < N + N / 2; i++) {
    const l = all[i]!;
    tracked.set(l.tid.key(), {
      tid: l.tid,
      origin: 'discovered',
      madeByStas: true,
      state: 'connected',
      attempts: 0,
      device: `nvme${i}`,
      ncc: false,
    });
  }
  const foreign: ForeignIoc[] = [];
  for (let i = 0; i < N / 2; i++) {
    const t = all[i]!.tid;
    foreign.push({
      device: `nvme${100_000 + i}`,
      conn: {
        transport: 'tcp',
        traddr: t.traddr,
        trsvcid: '4420',
        subsysnqn: t.subsysnqn,
        hostTraddr: '',
        hostIface: '',
        hostNqn: HOST,
        srcAddr: '10.0.0.9',
      },
    });
  }
  const once = (): ReturnType<typeof planReconcile> => {
    const { state } = computeDesiredState({
      controllers: [],
      excludes: [[['traddr', '192.0.2.1']]],
      ipv4: true,
      ipv6: true,
      learned: all.slice(0, N),
      discovery: 'answered',
      tidContext: ctx,
    });
    return planReconcile({
      desired: state,
      tracked,
      foreign,
      scope: 'only-stas-connections',
      disconnectTrtypes: ['tcp'],
      connectAttemptsOnNcc: 0,
      interfaces: ifs,
    });
  };
  for (let i = 0; i < 3; i++) once();
  const rounds = 10;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let allocated = 0;
  let plan = once();
  for (let i = 0; i < rounds; i++) {
    const h0 = process.memoryUsage().heapUsed;
    plan = once();
    const h1 = process.memoryUsage().heapUsed;
    if (h1 > h0) allocated += h1 - h0;
  }
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6 / (rounds + 1);
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / (rounds + 1);
  const s = planSummary(plan);
  console.log(
    `reconcile ${N} desired × ${N} tracked + ${N / 2} kernel controllers: ${wallMs.toFixed(1)} ms wall, ${cpuMs.toFixed(1)} ms CPU per pass; ~${(allocated / rounds / 1024 / 1024).toFixed(1)} MiB heap growth per pass (lower bound: GC may run mid-pass)`,
  );
  console.log(`  plan: connect ${s.connect}, adopt ${s.adopt}, keep ${s.keep}, disconnect ${s.disconnect}`);
}

async function benchAenToConnected(): Promise<void> {
  if (process.env.STAS_BENCH_VM !== '1') {
    console.log(
      'AEN → connected I/O controller: skipped (set STAS_BENCH_VM=1 to measure it against the kernel target VM)',
    );
    return;
  }
  const { ensureTargetVm } = await import('../test/harness/target-vm/index.js');
  const { startConnectorRig, waitFor, connectedNqns } = await import('../test/connector/rig.js');
  const vm = await ensureTargetVm();
  const map = [`${vm.guestIp}:8009=127.0.0.1:${vm.discPort}`, `${vm.guestIp}:4420=127.0.0.1:${vm.ioPort}`].join(',');
  const rig = await startConnectorRig({
    stafdConf: `[Global]\n[Controllers]\ncontroller=transport=tcp;traddr=127.0.0.1;trsvcid=${vm.discPort}\n`,
    stacdConf: '[Global]\n',
    env: { STAS_USERSPACE_ADDRESS_MAP: map },
  });
  const times: number[] = [];
  try {
    await waitFor(
      'default subsystems',
      async () => (connectedNqns(await rig.list(true)).length >= 3 ? true : undefined),
      60_000,
    );
    for (let i = 0; i < 5; i++) {
      const nqn = `nqn.2024-01.io.example:bench-${randomBytes(3).toString('hex')}`;
      await vm.addSubsystem(nqn, { namespaces: 1, sizeMiB: 8 });
      try {
        await new Promise((r) => setTimeout(r, 2000)); // quiet period, as in production
        await vm.linkSubsystem(nqn, 2);
        const t0 = Date.now();
        await waitFor(nqn, async () => (connectedNqns(await rig.list(true)).includes(nqn) ? true : undefined), 10_000);
        times.push(Date.now() - t0);
        await vm.unlinkSubsystem(nqn, 2);
      } finally {
        await vm.removeSubsystem(nqn).catch(() => undefined);
      }
    }
  } finally {
    await rig.stop();
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    `AEN → connected I/O controller (userspace driver, nvmet in QEMU/TCG): median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms over ${times.length} links`,
  );
}

export async function run(): Promise<void> {
  benchReconcile();
  await benchAenToConnected();
}
