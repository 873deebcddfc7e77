// Issue #5 in the kernel-host VM against its own nvmet target, stafd and stacd together with the kernel driver:
// stacd connects every NVM subsystem stafd found, a subsystem linked at run time is connected after its AEN, an
// unlinked one is disconnected (only-stas-connections), killing stafd disconnects nothing and a new stafd is
// followed without churn, and restarting stacd keeps every connection (see in-vm/with-stafd-scenario.ts).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ensureHostVm } from '../harness/target-vm/index.js';

it('stafd + stacd with the kernel driver in the kernel-host VM', { timeout: 420_000 }, async (t) => {
  const vm = await ensureHostVm();
  // compiled suite: plain node on the compiled scenario (tsx's esbuild work costs 15-25 s per process under TCG)
  const ts = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(`./in-vm/with-stafd-scenario.${ts ? 'ts' : 'js'}`, import.meta.url));
  const r = await vm.exec(`cd ${vm.repoRoot} && node ${ts ? '--import tsx ' : ''}${script} 2>&1`, { timeoutMs: 400_000 });
  const last = r.out.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}';
  const report = JSON.parse(last) as { ok?: boolean; error?: string; linkLatency?: unknown; unlinkToDisconnectedMs?: unknown };
  t.diagnostic(`link → connected: ${JSON.stringify(report.linkLatency)}; unlink → disconnected: ${String(report.unlinkToDisconnectedMs)} ms`);
  assert.equal(report.ok, true, `${report.error ?? 'no report'}\n${r.out.slice(-6000)}`);
});
