// stafd at scale: the real daemon (userspace driver) with 100 discovery controllers x 100 log entries, each DC an
// in-process fake NVMe/TCP target. Reports time to all log pages, the reconfiguration pass time (stafd's own
// measurement), CPU of a SIGHUP reload (pass + 100 log page re-reads), RSS, get_all_log_pages latency and size,
// and AEN -> log_pages_changed latency.
import { readFileSync } from 'node:fs';
import { FakeTarget } from '../test/harness/fake-target/index.js';
import { startFinderRig } from '../test/finder/rig.js';
import type { DiscoveryLogEntryFields } from '../daemons/nvme/protocol/discovery-log.js';

const DCS = Number(process.env.FINDER_BENCH_DCS ?? 100);
const ENTRIES = Number(process.env.FINDER_BENCH_ENTRIES ?? 100);

function entries(dc: number, n: number, gen = 0): DiscoveryLogEntryFields[] {
  return Array.from({ length: n }, (_, i) => ({
    subtype: 2,
    subnqn: `nqn.2024-01.io.example:bench-${dc}-${i}-${gen}`,
    traddr: `10.${dc >> 8}.${dc & 255}.${(i % 250) + 1}`,
    trsvcid: '4420',
    treq: 4,
  }));
}

/** user+system CPU seconds of a process, from /proc */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

export async function run(): Promise<void> {
  const targets: FakeTarget[] = [];
  for (let i = 0; i < DCS; i++) targets.push(await FakeTarget.start({ discoveryEntries: entries(i, ENTRIES) }));
  const conf =
    '[Global]\ntron=true\npleo=disabled\n[Service Discovery]\nzeroconf=disabled\n[Controllers]\n' +
    targets.map((t) => `controller=transport=tcp;traddr=127.0.0.1;trsvcid=${t.port}\n`).join('');
  const t0 = Date.now();
  const rig = await startFinderRig({ conf });
  try {
    const pid = rig.stafd.proc.pid!;
    await rig.waitFor(
      'all log pages',
      async () => {
        const all = await rig.allLogPages(false);
        return all.length === DCS && all.every((d) => d['log-pages'].length === ENTRIES) ? true : undefined;
      },
      120_000,
    );
    const ready = Date.now() - t0;
    const passes = [
      ...rig.stafd.output().matchAll(/reconfiguration: (\d+) DC\(s\), \+(\d+) -(\d+) in ([\d.]+) ms/g),
    ].map((m) => ({ dcs: Number(m[1]), ms: Number(m[4]) }));

    // a reload: one reconfiguration pass over 100 DCs plus a fresh log page from each
    const cpu0 = cpuSeconds(pid);
    const since = Date.now();
    rig.stafd.signal('SIGHUP');
    await rig.waitFor(
      'reload pass',
      async () => {
        const n = [...rig.stafd.output().matchAll(/reconfiguration: /g)].length;
        return n > passes.length &&
          rig.signals.filter((s) => s.member === 'log_pages_changed' && s.at >= since).length >= DCS
          ? true
          : undefined;
      },
      60_000,
    );
    const reloadCpu = cpuSeconds(pid) - cpu0;
    const lastPass = [
      ...rig.stafd.output().matchAll(/reconfiguration: (\d+) DC\(s\), \+(\d+) -(\d+) in ([\d.]+) ms/g),
    ].pop();

    const lat: number[] = [];
    let size = 0;
    for (let i = 0; i < 30; i++) {
      const s = process.hrtime.bigint();
      const [text] = (await rig.call('get_all_log_pages', 'b', [true])) as [string];
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      size = text.length;
    }
    const aen: number[] = [];
    for (let i = 0; i < 10; i++) {
      const s = Date.now();
      const t = targets[i * Math.floor(DCS / 10)]!;
      t.setDiscoveryEntries(entries(i, ENTRIES, i + 1));
      const sig = await rig.waitSignal(
        (x) => x.member === 'log_pages_changed' && x.body[2] === String(t.port),
        5_000,
        s,
      );
      aen.push(sig.at - s);
    }
    console.log(`DCs x entries:                      ${DCS} x ${ENTRIES}`);
    console.log(`start -> all log pages on D-Bus:    ${ready} ms`);
    console.log(
      `reconfiguration pass (first/last):  ${passes[0]?.ms ?? NaN} ms (${passes[0]?.dcs ?? 0} DCs) / ${lastPass?.[4] ?? NaN} ms (${lastPass?.[1] ?? 0} DCs)`,
    );
    console.log(`SIGHUP reload CPU (pass + ${DCS} reads): ${(reloadCpu * 1000).toFixed(0)} ms`);
    console.log(`stafd RSS:                          ${rssMiB(pid).toFixed(1)} MiB`);
    console.log(
      `get_all_log_pages(true):            p50 ${pct(lat, 50).toFixed(1)} ms, p95 ${pct(lat, 95).toFixed(1)} ms, ${(size / 1024).toFixed(0)} KiB`,
    );
    console.log(`AEN -> log_pages_changed:           p50 ${pct(aen, 50)} ms, max ${Math.max(...aen)} ms`);
  } finally {
    await rig.stop();
    await Promise.all(targets.map((t) => t.stop()));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
