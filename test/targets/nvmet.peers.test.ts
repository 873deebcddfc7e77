// The targets module against the real kernel NVMe target in the kernel-host VM (the scenario runs inside it).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ensureHostVm } from '../harness/target-vm/index.js';

it(
  'nvmet export: mapped host connects, others refused, state re-creates, hand-made config untouched',
  { timeout: 400_000 },
  async () => {
    const vm = await ensureHostVm();
    // compiled suite: plain node on the compiled scenario (tsx's esbuild work costs 15-25 s per process under TCG)
    const ts = import.meta.url.endsWith('.ts');
    const script = fileURLToPath(new URL(`./in-vm/nvmet-scenario.${ts ? 'ts' : 'js'}`, import.meta.url));
    const r = await vm.exec(`cd ${vm.repoRoot} && node ${ts ? '--import tsx ' : ''}${script} 2>&1`, {
      timeoutMs: 360_000,
    });
    const last =
      r.out
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .pop() ?? '{}';
    const report = JSON.parse(last) as { ok?: boolean; error?: string };
    assert.equal(report.ok, true, `${report.error ?? 'no report'}\n${r.out.slice(-6000)}`);
  },
);
