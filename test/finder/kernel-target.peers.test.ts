// The real stafd (userspace fabrics driver) against the real Linux nvmet target in QEMU: stafctl lists the
// target's subsystems; subsystems linked/unlinked at run time show up within 2 s through the AEN (no polling);
// two changes in a row are both seen (the RAE trap); a port that goes away and comes back is reconnected;
// a restart with a warm cache answers at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureTargetVm } from '../harness/target-vm/index.js';
import { startFinderRig, dcTuple, type FinderRig } from './rig.js';

type Vm = Awaited<ReturnType<typeof ensureTargetVm>>;

let vm: Vm;
let rig: FinderRig;
const NQN_A = `nqn.2024-01.io.example:finder-a-${process.pid}`;
const NQN_B = `nqn.2024-01.io.example:finder-b-${process.pid}`;
const NQN_C = `nqn.2024-01.io.example:finder-c-${process.pid}`;
const DISC_PORT_ID = 2;

const tid = (): string[] => dcTuple(vm.host, String(vm.discPort), rig.etc.hostnqn);
const subnqns = async (): Promise<string[]> => (await rig.getLogPages(tid())).map((p) => p.subnqn!);

before(async () => {
  vm = await ensureTargetVm();
  for (const n of [NQN_A, NQN_B, NQN_C]) await vm.addSubsystem(n, { namespaces: 1, sizeMiB: 8 });
  rig = await startFinderRig({
    conf: `[Global]\n\n[Service Discovery]\nzeroconf=disabled\n\n[Controllers]\ncontroller=transport=tcp;traddr=${vm.host};trsvcid=${vm.discPort}\n`,
  });
  await rig.waitFor('first log page from nvmet', async () => ((await subnqns()).length > 0 ? true : undefined), 30_000);
});

after(async () => {
  await rig?.stop();
  if (vm) for (const n of [NQN_A, NQN_B, NQN_C]) await vm.removeSubsystem(n).catch(() => undefined);
});

test('stafctl dlp --json and adlp list the target subsystems', async () => {
  const r = await rig.stafctl(['dlp', '-a', vm.host, '-s', String(vm.discPort), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const pages = JSON.parse(r.stdout) as Record<string, string>[];
  for (const n of vm.defaultSubsystems)
    assert.ok(
      pages.some((p) => p.subnqn === n),
      `${n} in dlp: ${r.stdout}`,
    );
  assert.ok(pages.every((p) => p.trtype === 'tcp' && p.adrfam === 'ipv4'));
  assert.equal(pages.find((p) => p.subtype === 'discovery')?.subnqn, 'nqn.2014-08.org.nvmexpress.discovery');

  const a = await rig.stafctl(['adlp', '--json']);
  assert.equal(a.code, 0, a.stderr);
  const all = JSON.parse(a.stdout) as { 'discovery-controller': Record<string, string>; 'log-pages': unknown[] }[];
  assert.equal(all.length, 1);
  assert.equal(all[0]!['discovery-controller'].trsvcid, String(vm.discPort));
  assert.equal(all[0]!['log-pages'].length, pages.length);

  const ls = await rig.stafctl(['ls', '-d', '--json']);
  assert.equal(ls.code, 0, ls.stderr);
  const [dc] = JSON.parse(ls.stdout) as Record<string, string>[];
  assert.equal(dc!.connected, 'True');
  assert.equal(dc!.model, 'Linux');
  assert.equal(dc!.cntrltype, 'discovery');
  const st = await rig.stafctl(['status', '--json']);
  assert.equal(st.code, 0, st.stderr);
  assert.equal((JSON.parse(st.stdout) as { controllers: unknown[] }).controllers.length, 1);
  for (const args of [['ls'], ['status'], ['dlp', '-a', vm.host, '-s', String(vm.discPort)], ['adlp']]) {
    const t = await rig.stafctl(args);
    assert.equal(t.code, 0, `stafctl ${args.join(' ')}: ${t.stderr}`);
  }
});

test('a subsystem linked at run time shows up within 2 s, then unlinked disappears within 2 s', async () => {
  let since = Date.now();
  await vm.linkSubsystem(NQN_A, DISC_PORT_ID);
  await rig.waitSignal((s) => s.member === 'log_pages_changed', 2_000, since);
  await rig.waitFor(
    'NQN_A listed',
    async () => ((await subnqns()).includes(NQN_A) ? true : undefined),
    2_000 - (Date.now() - since),
  );

  since = Date.now();
  await vm.unlinkSubsystem(NQN_A, DISC_PORT_ID);
  await rig.waitSignal((s) => s.member === 'log_pages_changed', 2_000, since);
  await rig.waitFor(
    'NQN_A gone',
    async () => (!(await subnqns()).includes(NQN_A) ? true : undefined),
    2_000 - (Date.now() - since),
  );
});

test('two subsystems linked one after the other are both seen (AEN re-armed after each read)', async () => {
  for (const n of [NQN_B, NQN_C]) {
    const since = Date.now();
    await vm.linkSubsystem(n, DISC_PORT_ID);
    await rig.waitFor(`${n} listed`, async () => ((await subnqns()).includes(n) ? true : undefined), 2_000);
    assert.ok(rig.signals.some((s) => s.member === 'log_pages_changed' && s.at >= since));
  }
  const list = await subnqns();
  assert.ok(list.includes(NQN_B) && list.includes(NQN_C));
  for (const n of [NQN_B, NQN_C]) await vm.unlinkSubsystem(n, DISC_PORT_ID);
});

test('a discovery port that goes away and comes back is reconnected', async () => {
  // the host forward stays; the nvmet port disappears: connection dropped, refused until it is back
  const ports = await vm.listPorts();
  assert.ok(ports.length > 0);
  const linked = await vm.listPortLinks(DISC_PORT_ID);
  for (const n of linked) await vm.unlinkSubsystem(n, DISC_PORT_ID);
  // With no subsystem linked, nvmet removes the port's listener: the association is torn down.
  await rig.waitFor(
    'DC seen as disconnected',
    async () => ((await rig.listControllers(true))[0]!.connected === 'False' ? true : undefined),
    40_000,
  );
  const since = Date.now();
  for (const n of linked) await vm.linkSubsystem(n, DISC_PORT_ID);
  await rig.waitSignal((s) => s.member === 'log_pages_changed', 70_000, since);
  assert.equal((await rig.listControllers(true))[0]!.connected, 'True');
  for (const n of vm.defaultSubsystems) assert.ok((await subnqns()).includes(n));
});

test('restart with a warm cache: get_all_log_pages answers from the cache before the DC is reconnected', async () => {
  const pages = await rig.getLogPages(tid());
  assert.ok(pages.length > 0);
  // make the DC unreachable for the restarted stafd: unlink everything from the discovery port
  const linked = await vm.listPortLinks(DISC_PORT_ID);
  try {
    await rig.stafd.stop();
    for (const n of linked) await vm.unlinkSubsystem(n, DISC_PORT_ID);
    await rig.restart();
    const all = await rig.allLogPages(true);
    assert.equal(all.length, 1);
    assert.notEqual(all[0]!['discovery-controller'].connected, 'True');
    assert.deepEqual(all[0]!['log-pages'], pages);
  } finally {
    for (const n of linked) await vm.linkSubsystem(n, DISC_PORT_ID);
  }
  await rig.waitFor(
    'reconnected after the port is back',
    async () => ((await rig.listControllers(true))[0]!.connected === 'True' ? true : undefined),
    70_000,
  );
});
