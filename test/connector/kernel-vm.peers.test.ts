// The kernel driver in the kernel-host VM against its own nvmet target: stacd connects, `nvme list-subsys` shows
// the connections, a hand-made `nvme connect` is adopted (not duplicated) and left alone under
// only-stas-connections, a restart keeps the connections, and a stas-made one is disconnected when unwanted.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ensureHostVm } from '../harness/target-vm/index.js';

it('stacd kernel driver in the kernel-host VM', { timeout: 300_000 }, async () => {
  const vm = await ensureHostVm();
  // compiled suite: plain node on the compiled scenario (tsx's esbuild work costs 15-25 s per process under TCG)
  const ts = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(`./in-vm/kernel-scenario.${ts ? 'ts' : 'js'}`, import.meta.url));
  const r = await vm.exec(`cd ${vm.repoRoot} && node ${ts ? '--import tsx ' : ''}${script} 2>&1`, { timeoutMs: 270_000 });
  const last = r.out.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}';
  const report = JSON.parse(last) as { ok?: boolean; error?: string };
  assert.equal(report.ok, true, `${report.error ?? 'no report'}\n${r.out.slice(-6000)}`);
});
