// Runs INSIDE the kernel-host VM (see kernel-host.peers.test.ts): the real stafd with the kernel fabrics driver on a
// private bus against the in-VM nvmet target. Prints one JSON line with what it saw; the parent asserts.
import { execFileSync } from 'node:child_process';
import { symlinkSync, unlinkSync } from 'node:fs';
import { startFinderRig, dcTuple } from './rig.js';
import { printReport } from '../harness/target-vm/scenario.js';

const [traddr, trsvcid, portId, nqn] = process.argv.slice(2) as [string, string, string, string];
const result: Record<string, unknown> = {};
const rig = await startFinderRig({
  conf: `[Global]\n[Service Discovery]\nzeroconf=disabled\n[Discovery controller connection management]\npersistent-connections=false\n[Controllers]\ncontroller=transport=tcp;traddr=${traddr};trsvcid=${trsvcid}\n`,
  env: { STAS_FABRICS_DRIVER: 'kernel' },
  startTimeoutMs: 180_000,
});
const link = `/sys/kernel/config/nvmet/ports/${portId}/subsystems/${nqn}`;
try {
  const tid = dcTuple(traddr, trsvcid, rig.etc.hostnqn);
  const first = await rig.waitSignal((s) => s.member === 'log_pages_changed', 60_000);
  result.device = first.body[7];
  result.driver = (await rig.processInfo())['stas.fabrics driver'];
  result.listSubsys = execFileSync('nvme', ['list-subsys'], { encoding: 'utf8', timeout: 10_000 });
  result.details = (await rig.listControllers(true))[0];
  result.before = (await rig.getLogPages(tid)).map((p) => p.subnqn);
  const since = Date.now();
  symlinkSync(`/sys/kernel/config/nvmet/subsystems/${nqn}`, link);
  // the signal whose log page has the new subsystem: under udevd the DC's NVME_EVENT=connected uevent can arrive
  // late and cause one more (unchanged) read and signal first
  const seen = new Set<unknown>();
  const deadline = since + 10_000;
  let after: string[] = [];
  for (;;) {
    const sig = await rig.waitSignal(
      (s) => s.member === 'log_pages_changed' && !seen.has(s),
      Math.max(1, deadline - Date.now()),
      since,
    );
    seen.add(sig);
    after = (await rig.getLogPages(tid)).map((p) => p.subnqn);
    if (after.includes(nqn)) {
      result.aenLatencyMs = sig.at - since;
      break;
    }
  }
  result.after = after;
  result.aenLogged = rig.stafd.output().includes('Received AEN: Discovery log page change');
} catch (e) {
  result.error = (e as Error).message;
} finally {
  try {
    unlinkSync(link);
  } catch {
    // not linked
  }
  await rig.stop().catch((e: unknown) => (result.stopError = (e as Error).message));
  result.afterStop = execFileSync('nvme', ['list-subsys'], { encoding: 'utf8', timeout: 10_000 });
}
printReport(result);
