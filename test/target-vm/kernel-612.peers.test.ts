// The VM harness with Debian 13's kernel (kernel: '6.12', fetched by fetch-kernel.sh): the target VM has
// nvmet in-band authentication (per-host DH-HMAC-CHAP keys in configfs), the host VM's fabrics driver lists
// dhchap_secret / dhchap_ctrl_secret and reads its modules from the unpacked package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureHostVm, ensureTargetVm } from '../harness/target-vm/index.js';

const SUB = 'nqn.2024-01.io.stas.test:k612-harness';
const HOST = 'nqn.2014-08.org.nvmexpress:uuid:6c6e7a1e-0000-4000-8000-000000000612';
// from `nvme gen-dhchap-key` (format only; this test never authenticates with them)
const KEY = 'DHHC-1:00:ia2YcDNJXBIzEr97t7RAQD0TT3DuaRv1TI7tXV+zpt3b9qaV:';
const CTRL_KEY = 'DHHC-1:01:x+U2BWA4eC01S9PSzuZQ5LlImxnOEZVkPsr/oPSXdD1Nz+EZ:';

test('6.12 target VM: nvmet takes per-host DH-HMAC-CHAP keys through configfs', { timeout: 1_500_000 }, async () => {
  const vm = await ensureTargetVm({ kernel: '6.12', name: 'target-612' });
  assert.equal(vm.kernel, '6.12');
  assert.match(vm.kernelRelease, /^6\.12\.\d+\+deb13-amd64$/);
  const u = await vm.exec('uname -r');
  assert.equal(u.out.trim(), vm.kernelRelease);
  if ((await vm.listSubsystems()).includes(SUB)) await vm.removeSubsystem(SUB); // left over by a killed run
  await vm.addSubsystem(SUB, { namespaces: 1 });
  try {
    await vm.allowHost(SUB, HOST, { key: KEY, ctrlKey: CTRL_KEY, hash: 'hmac(sha384)', dhgroup: 'ffdhe4096' });
    const H = `/sys/kernel/config/nvmet/hosts/${HOST}`;
    const r = await vm.exec(
      `cat ${H}/dhchap_hash ${H}/dhchap_dhgroup ${H}/dhchap_key ${H}/dhchap_ctrl_key; ` +
        `cat /sys/kernel/config/nvmet/subsystems/${SUB}/attr_allow_any_host; ls /sys/kernel/config/nvmet/subsystems/${SUB}/allowed_hosts`,
    );
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.out.trim().split('\n'), ['hmac(sha384)', 'ffdhe4096', KEY, CTRL_KEY, '0', HOST]);
    // nvmet itself refuses what it cannot use: the helper reports the failing write
    await assert.rejects(vm.setHostAuth(HOST, { key: KEY, dhgroup: 'ffdhe9999' as 'null' }), /invalid dhchap group/);
    await assert.rejects(vm.setHostAuth(HOST, { key: 'DHHC-1:07:abc:' }), /DHHC-1:NN:base64: form/);
    await vm.disallowHost(SUB, HOST);
    const back = await vm.exec(
      `cat /sys/kernel/config/nvmet/subsystems/${SUB}/attr_allow_any_host; ls /sys/kernel/config/nvmet/hosts`,
    );
    assert.equal(back.out.split('\n')[0], '1');
    assert.doesNotMatch(back.out, new RegExp(HOST));
  } finally {
    await vm.removeSubsystem(SUB);
  }
});

test(
  '6.12 host VM: the fabrics driver offers dhchap options, modules come from the unpacked package',
  { timeout: 1_500_000 },
  async () => {
    const vm = await ensureHostVm({ kernel: '6.12', name: 'host-612' });
    assert.equal(vm.kernel, '6.12');
    const r = await vm.exec('uname -r; cat /dev/nvme-fabrics; echo; modprobe -n -v nvme-auth && echo modprobe-ok', {
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.split('\n')[0], vm.kernelRelease);
    assert.match(r.out, /dhchap_secret=%s,dhchap_ctrl_secret=%s/);
    assert.match(r.out, /modprobe-ok/);
  },
);
