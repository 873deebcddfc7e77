// The kernel-target VM harness against the real thing: a QEMU VM running nvmet-tcp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { DEFAULT_NQN_BASE, ensureTargetVm, stopVmByName } from '../harness/target-vm/index.js';
import { probeIcResp } from '../harness/target-vm/probe.js';

const NQN_A = 'nqn.2024-01.io.stas.test:harness-a';

test('target VM boots (or is reused) and runs commands over the control channel', { timeout: 180_000 }, async () => {
  const vm = await ensureTargetVm();
  assert.equal(vm.host, '127.0.0.1');
  assert.ok(vm.ioPort > 0 && vm.discPort > 0 && vm.ioPort !== vm.discPort);
  const r = await vm.exec('uname -r; echo out; echo err >&2; exit 7');
  assert.equal(r.code, 7);
  assert.match(r.out, /^6\.\d+\.\d+.*\nout\nerr\n$/);
  const ok = await vm.exec('grep -c nvmet /proc/modules');
  assert.equal(ok.code, 0);
  // `set -e` in the command must not swallow the exit code
  const fail = await vm.exec('set -e; false; echo unreachable');
  assert.equal(fail.code, 1);
  assert.doesNotMatch(fail.out, /unreachable/);
  await assert.rejects(vm.exec('sleep 5', { timeoutMs: 500 }), /timed out after 500 ms/);
});

test('parallel execs all get their own answer', { timeout: 180_000 }, async () => {
  const vm = await ensureTargetVm();
  const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => vm.exec(`sleep 0.2; echo n${i}`)));
  assert.deepEqual(
    rs.map((r) => r.out),
    Array.from({ length: 8 }, (_, i) => `n${i}\n`),
  );
});

test('boot subsystems are configured and linked to both ports', { timeout: 180_000 }, async () => {
  const vm = await ensureTargetVm();
  const subs = await vm.listSubsystems();
  for (const nqn of vm.defaultSubsystems) assert.ok(subs.includes(nqn), `${nqn} missing in ${subs.join(' ')}`);
  assert.equal(vm.defaultSubsystems[0], `${DEFAULT_NQN_BASE}1`);
  const ports = await vm.listPorts();
  assert.deepEqual(
    ports.filter((p) => p.portId <= 2).map((p) => [p.portId, p.trsvcid]),
    [
      [1, '4420'],
      [2, '8009'],
    ],
  );
  for (const id of [1, 2]) {
    const links = await vm.listPortLinks(id);
    for (const nqn of vm.defaultSubsystems) assert.ok(links.includes(nqn));
  }
});

test('discovery and I/O ports answer an ICReq with an ICResp', { timeout: 180_000 }, async () => {
  const vm = await ensureTargetVm();
  for (const port of [vm.discPort, vm.ioPort]) {
    const r = await probeIcResp(vm.host, port);
    assert.equal(r.pduType, 0x01, 'ICResp PDU type');
    assert.equal(r.hlen, 128);
    assert.equal(r.plen, 128);
    assert.equal(r.pfv, 0);
    assert.ok(r.maxH2CData >= 4096, `MAXH2CDATA ${r.maxH2CData}`);
  }
});

test('add, link, unlink and remove a subsystem through configfs', { timeout: 180_000 }, async () => {
  const vm = await ensureTargetVm();
  if ((await vm.listSubsystems()).includes(NQN_A)) await vm.removeSubsystem(NQN_A); // left over by a killed run
  await vm.addSubsystem(NQN_A, { namespaces: 2, sizeMiB: 8, serial: 'STASHARNESS1', model: 'stas-harness' });
  assert.ok((await vm.listSubsystems()).includes(NQN_A));
  const attrs = await vm.exec(
    `cd /sys/kernel/config/nvmet/subsystems/${NQN_A} && cat attr_serial attr_model && ls namespaces && cat namespaces/2/enable`,
  );
  assert.equal(attrs.code, 0, attrs.out);
  // nvmet pads the serial with spaces to 20 characters
  assert.equal(attrs.out, 'STASHARNESS1        \nstas-harness\n1\n2\n1\n');
  assert.ok(!(await vm.listPortLinks(2)).includes(NQN_A));
  await vm.linkSubsystem(NQN_A, 2);
  assert.ok((await vm.listPortLinks(2)).includes(NQN_A));
  await assert.rejects(vm.linkSubsystem(NQN_A, 2), /linkSubsystem.*failed/);
  await vm.unlinkSubsystem(NQN_A, 2);
  assert.ok(!(await vm.listPortLinks(2)).includes(NQN_A));
  await vm.linkSubsystem(NQN_A, 1);
  await vm.removeSubsystem(NQN_A); // also drops the port link and the namespace files
  assert.ok(!(await vm.listSubsystems()).includes(NQN_A));
  assert.ok(!(await vm.listPortLinks(1)).includes(NQN_A));
  const files = await vm.exec('ls /data');
  assert.doesNotMatch(files.out, /harness-a/);
  await assert.rejects(vm.addSubsystem('bad nqn; reboot'), /invalid NQN/);
});

test(
  'a new nvmet port gets a host forward; mapAddress follows discovery log addresses',
  { timeout: 180_000 },
  async () => {
    const vm = await ensureTargetVm();
    const nqn = 'nqn.2024-01.io.stas.test:harness-port';
    if ((await vm.listPorts()).some((p) => p.portId === 7)) await vm.removePort(7);
    if ((await vm.listSubsystems()).includes(nqn)) await vm.removeSubsystem(nqn);
    const p = await vm.addPort(7, 4427);
    assert.equal(p.trsvcid, '4427');
    assert.equal(p.host, '127.0.0.1');
    await vm.addSubsystem(nqn, { namespaces: 1, sizeMiB: 8 });
    await vm.linkSubsystem(nqn, 7); // the first link makes the port listen
    try {
      assert.deepEqual(vm.mapAddress(vm.guestIp, '4427'), { host: '127.0.0.1', port: p.hostPort });
      assert.deepEqual(vm.mapAddress(vm.guestIp, 8009), { host: '127.0.0.1', port: vm.discPort });
      assert.equal(vm.mapAddress('192.0.2.1', 8009), undefined);
      const r = await probeIcResp('127.0.0.1', p.hostPort);
      assert.equal(r.pduType, 1);
    } finally {
      await vm.removeSubsystem(nqn);
      await vm.removePort(7);
    }
  },
);

test('two processes asking for the same VM at once boot it only once', { timeout: 300_000 }, async () => {
  const name = 'reuse-probe';
  await stopVmByName(name);
  const ts = import.meta.url.endsWith('.ts');
  const child = fileURLToPath(new URL(`./fixtures/ensure-child.${ts ? 'ts' : 'js'}`, import.meta.url));
  const args = ts ? ['--import', 'tsx', child, name] : [child, name];
  try {
    const [a, b] = await Promise.all([
      execa(process.execPath, args, { timeout: 240_000 }),
      execa(process.execPath, args, { timeout: 240_000 }),
    ]);
    const ra = JSON.parse(a.stdout) as { pid: number; reused: boolean; ioPort: number };
    const rb = JSON.parse(b.stdout) as { pid: number; reused: boolean; ioPort: number };
    assert.equal(ra.pid, rb.pid, 'both processes must get the same QEMU');
    assert.equal(ra.ioPort, rb.ioPort);
    assert.deepEqual([ra.reused, rb.reused].sort(), [false, true], 'exactly one boot');
    const c = JSON.parse((await execa(process.execPath, args, { timeout: 60_000 })).stdout) as {
      pid: number;
      reused: boolean;
    };
    assert.deepEqual(c, { ...c, pid: ra.pid, reused: true });
    // in this process too; after stopVm the next ensure boots a new one instead of returning the dead handle
    const opts = { name, memMiB: 256, subsystems: 1, namespaces: 1 };
    const here = await ensureTargetVm(opts);
    assert.equal(here.pid, ra.pid);
    assert.equal(here.reused, true);
    await here.stopVm();
    const again = await ensureTargetVm(opts);
    assert.notEqual(again.pid, ra.pid);
    assert.equal(again.reused, false);
    assert.equal((await again.exec('echo hi')).out, 'hi\n');
  } finally {
    assert.equal(await stopVmByName(name), true);
  }
});
