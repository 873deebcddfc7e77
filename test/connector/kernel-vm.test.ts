// The kernel driver in the kernel-host VM against its own nvmet target: stacd connects, `nvme list-subsys` shows
// the connections, a hand-made `nvme connect` is adopted (not duplicated) and left alone under
// only-stas-connections, a restart keeps the connections, and a stas-made one is disconnected when unwanted.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ensureHostVm } from '../harness/target-vm/index.js';

it('stacd kernel driver in the kernel-host VM', { timeout: 600_000 }, async () => {
  const vm = await ensureHostVm();
  const script = 'test/connector/in-vm/kernel-scenario.ts';
  const r = await vm.exec(`cd ${vm.repoRoot} && node --import tsx ${script}`, { timeoutMs: 540_000 });
  const last = r.out.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}';
  const report = JSON.parse(last) as { ok?: boolean; error?: string };
  assert.equal(report.ok, true, `${report.error ?? 'no report'}\n${r.out.slice(-6000)}`);
});
