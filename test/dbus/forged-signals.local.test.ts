// Issue #17, defect 3: signals forged by an unprivileged client do not steer the daemons. Anyone on the bus may
// send any signal, and one addressed to a daemon's unique name reaches it whatever its match rules; only the
// sender the bus stamps on it tells a real NameOwnerChanged (org.freedesktop.DBus) from a forged one.
//  - stacd: a forged "stafd left the bus", sent by `nobody` straight to stacd, must not make it stop following
//    stafd: a subsystem the fake target lists afterwards still gets connected.
//  - stafd: a forged "Avahi left the bus" must not tear down its mDNS browser; Avahi really leaving still does.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FakeTarget } from '../harness/fake-target/index.js';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { startDaemon, runCli, type RunningDaemon } from '../harness/daemons.js';
import { makeTestEtc, type TestEtc } from '../harness/env.js';
import { createNetnsPair, type NetnsPair } from '../harness/netns/index.js';
import { startAvahi, type AvahiDaemon } from '../harness/avahi/index.js';

const run = promisify(execFile);
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error('cleanup:', e));
});

async function ownerOf(bus: PrivateBus, name: string): Promise<string> {
  const r = await run('dbus-send', [
    `--bus=${bus.address}`,
    '--print-reply=literal',
    '--dest=org.freedesktop.DBus',
    '/org/freedesktop/DBus',
    'org.freedesktop.DBus.GetNameOwner',
    `string:${name}`,
  ]);
  return r.stdout.trim();
}

/** `nobody` sends NameOwnerChanged(name, old, '') straight to `dest` (a unique name), as in the issue. */
async function forgeNameLost(bus: PrivateBus, dest: string, name: string, old: string): Promise<void> {
  await run('runuser', [
    '-u',
    'nobody',
    '--',
    'dbus-send',
    `--bus=${bus.address}`,
    '--type=signal',
    `--dest=${dest}`,
    '/org/freedesktop/DBus',
    'org.freedesktop.DBus.NameOwnerChanged',
    `string:${name}`,
    `string:${old}`,
    'string:',
  ]);
}

/** A method call answered by the daemon after the forged signal: the daemon has handled the signal by then
 *  (it reads its connection in order, and the bus routed the signal before this later connection's call). */
async function roundTrip(bus: PrivateBus, dest: string, iface: string, path: string): Promise<void> {
  await run(
    'dbus-send',
    [`--bus=${bus.address}`, '--print-reply', `--dest=${dest}`, path, `${iface}.debug.process_info`],
    { timeout: 15_000 },
  );
}

async function stacdIocs(bus: PrivateBus): Promise<string[]> {
  const r = await runCli('stacctl', ['ls', '--json'], { busAddress: bus.address });
  if (r.code !== 0) return [];
  return (JSON.parse(r.stdout) as { subsysnqn: string }[]).map((c) => c.subsysnqn).sort();
}

async function waitIocs(bus: PrivateBus, want: string[], what: string): Promise<void> {
  const deadline = Date.now() + 45_000;
  let got: string[] = [];
  while (Date.now() < deadline) {
    got = await stacdIocs(bus);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.fail(`${what}: stacd lists ${JSON.stringify(got)}, expected ${JSON.stringify(want)} within 45 s`);
}

test('a forged "stafd left the bus" from nobody does not stop stacd following stafd', async () => {
  const NQN1 = 'nqn.2024-01.io.example:forged-1';
  const NQN2 = 'nqn.2024-01.io.example:forged-2';
  const ns = [{ nsid: 1, lbaSize: 512, blocks: 2048, uuid: '11111111-2222-4333-8444-555555555555' }];
  const target = await FakeTarget.start({
    subsystems: [
      { nqn: NQN1, namespaces: ns },
      { nqn: NQN2, namespaces: ns },
    ],
  });
  cleanups.push(() => target.stop());
  const all = target.discoveryEntries;
  const withoutSecond = all.filter((e) => e.subnqn !== NQN2);
  target.setDiscoveryEntries(withoutSecond);
  const etc: TestEtc = makeTestEtc({
    stafd: `[Global]\npleo=disabled\n\n[Service Discovery]\nzeroconf=disabled\n\n[Controllers]\ncontroller=transport=tcp;traddr=127.0.0.1;trsvcid=${target.port}\n`,
  });
  cleanups.push(async () => etc.cleanup());
  const bus = await startPrivateBus();
  cleanups.push(() => bus.stop());
  const stafd: RunningDaemon = await startDaemon('stafd', {
    busAddress: bus.address,
    confFile: etc.stafdConf,
    env: etc.env,
  });
  cleanups.push(() => stafd.stop());
  const stacd: RunningDaemon = await startDaemon('stacd', {
    busAddress: bus.address,
    confFile: etc.stacdConf,
    env: etc.env,
  });
  cleanups.push(() => stacd.stop());
  await waitIocs(bus, [NQN1], 'before the forged signal');

  const stacdName = await ownerOf(bus, 'org.nvmexpress.stac');
  const stafdName = await ownerOf(bus, 'org.nvmexpress.staf');
  await forgeNameLost(bus, stacdName, 'org.nvmexpress.staf', stafdName);
  await roundTrip(bus, 'org.nvmexpress.stac', 'org.nvmexpress.stac', '/org/nvmexpress/stac');
  assert.doesNotMatch(stacd.output(), /stafd left the bus/, 'stacd believed a signal nobody sent');

  // the target lists a second subsystem: stafd reads the change, signals it, stacd connects it
  target.setDiscoveryEntries(all);
  await waitIocs(bus, [NQN1, NQN2].sort(), 'after the forged signal and a log change');
  const deadline = Date.now() + 30_000;
  while (!target.stats.connects.some((c) => c.subnqn === NQN2 && c.qid === 0)) {
    if (Date.now() > deadline)
      assert.fail(`stacd did not connect ${NQN2} within 30 s:\n${stacd.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

test('a forged "Avahi left the bus" from nobody does not tear down stafd\'s mDNS browser', async () => {
  const pair: NetnsPair = await createNetnsPair();
  cleanups.push(() => pair.destroy());
  const bus = await startPrivateBus();
  cleanups.push(() => bus.stop());
  const avahi: AvahiDaemon = await startAvahi({
    ns: pair.b.ns,
    iface: pair.b.ifname,
    hostName: 'stas-forged',
    busAddress: bus.address,
  });
  cleanups.push(() => avahi.stop());
  const etc = makeTestEtc({ stafd: '[Global]\npleo=disabled\n\n[Service Discovery]\nzeroconf=enabled\n' });
  cleanups.push(async () => etc.cleanup());
  const stafd = await startDaemon('stafd', {
    busAddress: bus.address,
    confFile: etc.stafdConf,
    env: etc.env,
    args: ['--tron'],
  });
  cleanups.push(() => stafd.stop());
  await stafd.waitForLog('avahi-daemon service available', 20_000);
  await stafd.waitForLog(/Avahi service browser for _nvme-disc._tcp started/, 20_000);

  const stafdName = await ownerOf(bus, 'org.nvmexpress.staf');
  const avahiName = await ownerOf(bus, 'org.freedesktop.Avahi');
  await forgeNameLost(bus, stafdName, 'org.freedesktop.Avahi', avahiName);
  await roundTrip(bus, 'org.nvmexpress.staf', 'org.nvmexpress.staf', '/org/nvmexpress/staf');
  assert.doesNotMatch(stafd.output(), /avahi-daemon not available/, 'stafd believed a signal nobody sent');

  // the real thing still counts: Avahi leaving the bus makes stafd fall back
  await avahi.stop();
  await stafd.waitForLog('avahi-daemon not available', 20_000);
});
