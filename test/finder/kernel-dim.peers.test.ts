// TP8010 DIM through the kernel driver (nvme-stas §4.6): KernelLink.register() sends the DIM with nvme-cli's admin
// passthrough, and an NVMe status from the controller becomes the same NvmeStatusError the userspace host raises
// (so stafd warns "Registration error. <status>." in both cases). Linux nvmet has no DIM: against a real kernel
// discovery controller in the kernel-host VM the answer is Invalid Command Opcode, mapped (kernel-dim-child.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureHostVm } from '../harness/target-vm/index.js';
import { runScenario } from '../harness/target-vm/scenario.js';
import { parseNvmeCliStatus } from '../../daemons/finder/kernel-dim.js';

test('nvme-cli 2.3 status lines parse into a CQE status', () => {
  const c = parseNvmeCliStatus(
    'NVMe status: Invalid Command Opcode: A reserved coded value or an unsupported value in the command opcode field(0x6001)\n',
  );
  assert.ok(c);
  assert.deepEqual([c.sct, c.sc, c.dnr, c.more, c.ok], [0, 0x01, true, true, false]);
  const f = parseNvmeCliStatus(
    'NVMe status: Invalid Field in Command: A reserved coded value or an unsupported value in a defined field(0x4002)',
  );
  assert.deepEqual([f?.sct, f?.sc, f?.dnr], [0, 0x02, true]);
  const cs = parseNvmeCliStatus('NVMe status: something command specific(0x184)');
  assert.deepEqual([cs?.sct, cs?.sc, cs?.dnr], [1, 0x84, false]);
  assert.equal(parseNvmeCliStatus('passthru: Inappropriate ioctl for device'), undefined);
  assert.equal(parseNvmeCliStatus(''), undefined);
});

test(
  'kernel driver DIM against a real discovery controller: the status comes back as NvmeStatusError',
  { timeout: 300_000 },
  async () => {
    const h = await ensureHostVm();
    const { report: res } = await runScenario<Record<string, Record<string, unknown> | string | boolean | undefined>>(
      h,
      new URL('./kernel-dim-child', import.meta.url),
      [h.targetTraddr, String(h.discPort)],
      240_000,
    );
    assert.equal(res.error, undefined, String(res.error));
    assert.match(String(res.device), /^nvme\d+$/);
    assert.equal(res.cntrltype, 'discovery');
    assert.equal(res.dctype, 'none', 'nvmet reports no DCTYPE (stafd would not register with it)');
    const reg = res.register as Record<string, unknown>;
    assert.equal(reg.status, true, `a status error, got ${JSON.stringify(reg)}`);
    assert.deepEqual([reg.sct, reg.sc, reg.dnr], [0, 1, true]);
    assert.equal(reg.statusText, 'Invalid Command Opcode (SCT=0x0 SC=0x01)');
    assert.equal(res.aliveAfter, true, 'the controller stays usable');
    const missing = res.missing as Record<string, unknown>;
    assert.equal(missing.status, false, 'no controller: a plain failure, not a status');
    assert.match(String(missing.message), /nvme admin-passthru failed/);
  },
);
