// The kernel fabrics driver end to end, inside the kernel-host VM (booted once per suite by the harness): connect a
// persistent discovery controller through /dev/nvme-fabrics, read its log via nvme-cli, see an AEN uevent per
// linked subsystem (RAE trap: the second one must come too), connect and delete an I/O controller.
// The scenario itself is test/kernel/in-vm/scenario.ts, run by node in the VM on the shared checkout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureHostVm } from '../harness/target-vm/index.js';
import { runScenario } from '../harness/target-vm/scenario.js';

interface Report {
  supported: string[];
  features: { hostIface: boolean; discovery: boolean; dhchapSecret: boolean; warning: string | null };
  dcConnect: { instance: number; cntlid: number; device: string };
  dcSysfs: { state: string; cntrltype: string; address: string };
  listSubsys: boolean;
  log1: { genctr: string; numrec: string; nqns: string[] };
  logAfter1: { genctr: string; numrec: string };
  logAfter2: { genctr: string; numrec: string };
  aenMs: number[];
  ioc: { device: string; children: string[]; model: string };
  duplicate: string;
  iocDeleted: boolean;
  refused: { code: string; message: string };
  dcDeleted: boolean;
  eventsSeen: string[];
  ueventBackend: string;
}

test('kernel path in the host VM: DC connect, DLP, two AENs, IOC connect/delete', { timeout: 600_000 }, async () => {
  const vm = await ensureHostVm();
  // node under TCG is slow to start and compile (tens of seconds on a busy machine): generous but bounded
  const {
    code,
    out,
    report: rep,
  } = await runScenario<Report>(vm, new URL('./in-vm/scenario', import.meta.url), [], 540_000);
  assert.equal(code, 0, `scenario failed in the VM:\n${out}`);

  assert.deepEqual(rep.supported, ['host_iface', 'discovery', 'keep_alive_tmo']);
  // Debian's 6.1 lists dhchap_secret although it is built without NVME_AUTH
  assert.deepEqual(rep.features, { hostIface: true, discovery: true, dhchapSecret: true, warning: null });
  assert.match(rep.dcConnect.device, /^nvme\d+$/);
  assert.equal(rep.dcSysfs.state, 'live');
  assert.equal(rep.dcSysfs.cntrltype, 'discovery');
  assert.match(rep.dcSysfs.address, /^traddr=127\.0\.0\.1,trsvcid=8009,src_addr=127\.0\.0\.1$/);
  assert.equal(rep.listSubsys, true);
  assert.equal(rep.log1.nqns[0], 'nqn.2014-08.org.nvmexpress.discovery');
  for (const nqn of vm.defaultSubsystems) assert.ok(rep.log1.nqns.includes(nqn));
  // each linked subsystem: one AEN, one more record, a newer generation
  assert.equal(rep.aenMs.length, 2);
  assert.equal(Number(rep.logAfter1.numrec), Number(rep.log1.numrec) + 1);
  assert.equal(Number(rep.logAfter2.numrec), Number(rep.log1.numrec) + 2);
  assert.ok(BigInt(rep.logAfter2.genctr) > BigInt(rep.logAfter1.genctr));
  const dc = rep.dcConnect.device;
  assert.equal(rep.ueventBackend, 'node-udev', 'udevd runs in the VM: uevents through libudev');
  assert.equal(rep.eventsSeen.filter((e) => e === `change:${dc}:0x70f002`).length, 2, rep.eventsSeen.join(' '));
  assert.ok(rep.eventsSeen.includes(`add:${dc}`) && rep.eventsSeen.includes(`remove:${dc}`));
  assert.match(rep.ioc.device, /^nvme\d+$/);
  assert.ok(rep.ioc.children.length >= 1);
  assert.equal(rep.ioc.model, 'nvt-test-subsys1');
  assert.equal(rep.duplicate, 'EALREADY');
  assert.equal(rep.iocDeleted, true);
  assert.equal(rep.refused.code, 'ECONNREFUSED');
  assert.match(rep.refused.message, /connection refused/);
  assert.equal(rep.dcDeleted, true);
  // nothing of ours left behind in the VM (other test files share it and may hold their own controllers)
  const left = await vm.exec(`ls -d /sys/class/nvme/${dc} /sys/class/nvme/${rep.ioc.device} 2>/dev/null | wc -l`);
  assert.equal(left.out.trim(), '0');
});
