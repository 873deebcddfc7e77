// The kernel-host VM harness: host rootfs over 9p, the checkout shared rw at the same path, in-VM nvmet target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ensureHostVm } from '../harness/target-vm/index.js';

test('host VM runs the kernel NVMe host and sees its in-VM target', { timeout: 300_000 }, async () => {
  const vm = await ensureHostVm();
  const fab = await vm.exec('test -c /dev/nvme-fabrics && head -c 200 /dev/nvme-fabrics');
  assert.equal(fab.code, 0, fab.out);
  assert.match(fab.out, /^instance=-1,cntlid=-1,transport=%s,traddr=%s/);
  const disc = await vm.exec(`nvme discover -t tcp -a ${vm.targetTraddr} -s ${vm.discPort}`, { timeoutMs: 60_000 });
  assert.equal(disc.code, 0, disc.out);
  for (const nqn of vm.defaultSubsystems)
    assert.match(disc.out, new RegExp(`subnqn: +${nqn.replace(/\./g, '\\.')}\\n`));
  assert.match(disc.out, /traddr: +127\.0\.0\.1/);
});

test('the checkout is shared live and read-write at the same path', { timeout: 300_000 }, async () => {
  const vm = await ensureHostVm();
  const dir = join(vm.repoRoot, '.test-state', 'share-probe');
  mkdirSync(dir, { recursive: true });
  const token = randomBytes(8).toString('hex');
  const f = join(dir, `from-host-${token}`);
  writeFileSync(f, token); // a new file, created after boot, must be visible at once
  try {
    const r = await vm.exec(
      `cat ${f} && printf '%s' back-${token} > ${f}.vm && node -e 'process.stdout.write(process.version)'`,
      { timeoutMs: 60_000 },
    );
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out, `${token}${process.version}`);
    assert.equal(readFileSync(`${f}.vm`, 'utf8'), `back-${token}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
