// nvme-cli coexistence (nvme-stas §4.9) against the real kernel: for a discovery controller stafd does not manage
// (made by hand with `nvme connect -n <well-known NQN> --keep-alive-tmo=30` in the kernel-host VM), a discovery log change AEN makes stafd run
// `systemctl --quiet --no-block restart nvmf-connect@--device\x3dnvmeN.service` (host-traddr/host-iface are `none`
// on that DC, so they are left out). The child (nvme-cli-foreign-dc-child.ts) records systemctl through a shim,
// because systemd is not PID 1 in the VM; the DC, nvmet, the AEN and the uevent are real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureHostVm } from '../harness/target-vm/index.js';
import { runScenario } from '../harness/target-vm/scenario.js';

test(
  "a foreign DC's discovery log change: stafd restarts nvmf-connect@<escaped opts>.service",
  { timeout: 600_000 },
  async () => {
    const h = await ensureHostVm();
    const nqn = `nqn.2024-01.io.example:foreign-dc-${process.pid}`;
    await h.addSubsystem(nqn, { namespaces: 1, sizeMiB: 8 });
    try {
      const { report: res, out } = await runScenario<Record<string, unknown>>(
        h,
        new URL('./nvme-cli-foreign-dc-child', import.meta.url),
        [h.targetTraddr, String(h.discPort), '2', nqn],
        300_000,
      );
      assert.equal(res.error, undefined, `${String(res.error)}\n${out.slice(-4000)}`);
      const device = String(res.device);
      assert.match(device, /^nvme\d+$/);
      assert.equal(res.managed, 0, 'stafd manages no DC');
      assert.equal(res.ruleWritten, true, 'override installed with the kernel driver');
      assert.deepEqual(res.calls, [
        ['--quiet', '--no-block', 'restart', `nvmf-connect@--device\\x3d${device}.service`],
      ]);
      assert.equal(res.logged, true, 'the invocation is logged');
      assert.ok((res.latencyMs as number) < 15_000, `AEN -> systemctl took ${String(res.latencyMs)} ms`);
      assert.equal(res.ruleRemoved, true, 'override removed at exit');
      assert.equal(res.stopError, undefined);
      assert.equal(res.disconnectError, undefined);
    } finally {
      await h.removeSubsystem(nqn).catch(() => undefined);
    }
  },
);
