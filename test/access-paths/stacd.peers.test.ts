// Access paths end to end in the kernel-host VM: stacd, stacctl, the kernel NVMe target and nvme-cli as hosts.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ensureHostVm } from '../harness/target-vm/index.js';

it(
  'access paths: create, map a host, refusals by name, restart keeps the export, rm leaves hand-made nvmet',
  { timeout: 1_500_000 },
  async () => {
    const vm = await ensureHostVm();
    const ts = import.meta.url.endsWith('.ts');
    const script = fileURLToPath(new URL(`./in-vm/stacd-scenario.${ts ? 'ts' : 'js'}`, import.meta.url));
    const r = await vm.exec(`cd ${vm.repoRoot} && node ${ts ? '--import tsx ' : ''}${script} 2>&1`, {
      timeoutMs: 1_440_000,
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
