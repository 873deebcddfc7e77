// The kernel driver in the kernel-host VM against its own nvmet target: stacd connects, `nvme list-subsys` shows
// the connections, a hand-made `nvme connect` is adopted (not duplicated) and left alone under
// only-stas-connections, a restart keeps the connections, and a stas-made one is disconnected when unwanted.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ensureHostVm } from '../harness/target-vm/index.js';
import { runScenario } from '../harness/target-vm/scenario.js';

interface KernelScenarioReport {
  ok: boolean;
  error?: string;
  byHand?: string;
  devices?: { d1: string; d2: string };
  s2DevicesAfterConnect?: string[];
  listSubsys?: { s1: boolean; s2: boolean };
  adoptionLogged?: boolean;
  s2DevicesAfterRelease?: string[];
  afterRestart?: { device: string; s1Devices: string[] };
  stasMadeDisconnected?: boolean;
}

it('stacd kernel driver in the kernel-host VM', { timeout: 300_000 }, async () => {
  const vm = await ensureHostVm();
  const { report: r, out } = await runScenario<KernelScenarioReport>(
    vm,
    new URL('./in-vm/kernel-scenario', import.meta.url),
    [],
    270_000,
  );
  assert.equal(r.ok, true, `${r.error ?? 'no report'}\n${out.slice(-6000)}`);
  assert.match(r.byHand ?? '', /^nvme\d+$/, 'the hand-made nvme connect made a controller');
  assert.match(r.devices?.d1 ?? '', /^nvme\d+$/);
  assert.equal(r.devices?.d2, r.byHand, 'the hand-made connection is adopted');
  assert.deepEqual(r.s2DevicesAfterConnect, [r.byHand], 'not duplicated');
  assert.deepEqual(r.listSubsys, { s1: true, s2: true }, 'nvme list-subsys shows both subsystems');
  assert.equal(r.adoptionLogged, true, 'stacd logs the adoption');
  assert.deepEqual(r.s2DevicesAfterRelease, [r.byHand], 'the hand-made connection is left alone when unwanted');
  assert.deepEqual(
    r.afterRestart,
    { device: r.devices?.d1, s1Devices: [r.devices?.d1] },
    'a restart keeps the connection',
  );
  assert.equal(r.stasMadeDisconnected, true, 'a stas-made connection is disconnected when unwanted');
});
