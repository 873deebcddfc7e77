// Issue #5 in the kernel-host VM against its own nvmet target, stafd and stacd together with the kernel driver:
// stacd connects every NVM subsystem stafd found, a subsystem linked at run time is connected after its AEN, an
// unlinked one is disconnected (only-stas-connections), killing stafd disconnects nothing and a new stafd is
// followed without churn, and restarting stacd keeps every connection (see in-vm/with-stafd-scenario.ts).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ensureHostVm } from '../harness/target-vm/index.js';
import { runScenario } from '../harness/target-vm/scenario.js';

it('stafd + stacd with the kernel driver in the kernel-host VM', { timeout: 420_000 }, async (t) => {
  const vm = await ensureHostVm();
  const { report, out } = await runScenario<{
    ok?: boolean;
    error?: string;
    linkLatency?: unknown;
    unlinkToDisconnectedMs?: unknown;
  }>(vm, new URL('./in-vm/with-stafd-scenario', import.meta.url), [], 400_000);
  t.diagnostic(
    `link → connected: ${JSON.stringify(report.linkLatency)}; unlink → disconnected: ${String(report.unlinkToDisconnectedMs)} ms`,
  );
  assert.equal(report.ok, true, `${report.error ?? 'no report'}\n${out.slice(-6000)}`);
});
