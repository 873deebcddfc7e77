// The kernel driver with DH-HMAC-CHAP in the 6.12 kernel-host VM (Debian 13's kernel: host and target auth):
// stacd connects an I/O controller that requires a key (a `stasadm gen-dhchap-key` key, by file reference), a wrong
// key is one named connect error, a world-readable key file is refused. The scenario runs inside the VM.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ensureHostVm } from '../harness/target-vm/index.js';

it('stacd kernel driver with DH-HMAC-CHAP keys in the 6.12 kernel-host VM', { timeout: 1_500_000 }, async () => {
  const vm = await ensureHostVm({ kernel: '6.12', name: 'host-612' });
  const ts = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(`./in-vm/kernel-auth-scenario.${ts ? 'ts' : 'js'}`, import.meta.url));
  const r = await vm.exec(`cd ${vm.repoRoot} && node ${ts ? '--import tsx ' : ''}${script} 2>&1`, {
    timeoutMs: 400_000,
  });
  const last =
    r.out
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .pop() ?? '{}';
  const report = JSON.parse(last) as { ok?: boolean; error?: string };
  assert.equal(report.ok, true, `${report.error ?? 'no report'}\n${r.out.slice(-6000)}`);
});
