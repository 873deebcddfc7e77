// Runs INSIDE the kernel-host VM (started by test/kernel/kernel-fabrics.peers.test.ts through the harness), as root,
// against the VM's own nvmet target on 127.0.0.1. Drives the stas kernel path end to end and prints one JSON
// report on the last line; any failed step exits 1 with the reason. Every wait is bounded.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { fabricsConnect, readSupportedOptions } from '../../../daemons/nvme/kernel/fabrics-device.js';
import { deleteController, listControllers, readController } from '../../../daemons/nvme/kernel/sysfs.js';
import { connectionMatches, connectionOf, WELL_KNOWN_DISCOVERY_NQN } from '../../../daemons/nvme/kernel/match.js';
import { getKernelDiscoveryLog } from '../../../daemons/nvme/kernel/discovery-log.js';
import { FabricsError } from '../../../daemons/nvme/kernel/errors.js';
import { detectKernelFeatures } from '../../../daemons/nvme/kernel/features.js';
import { UeventMonitor, waitForUevent } from '../../../daemons/udev/monitor.js';
import { waitFor } from '../../harness/wait.js';
import { printReport } from '../../harness/target-vm/scenario.js';
import { isDiscoveryLogChange, ueventDeviceName, type Uevent } from '../../../daemons/udev/uevent-parser.js';
import { NvmetControl } from '../../harness/target-vm/nvmet.js';

const TARGET = '127.0.0.1';
const HOSTNQN = `nqn.2014-08.org.nvmexpress:uuid:${randomUUID()}`;
const HOSTID = randomUUID();
const NEW1 = `nqn.2024-01.io.stas.test:kernel-aen-${process.pid}-1`;
const NEW2 = `nqn.2024-01.io.stas.test:kernel-aen-${process.pid}-2`;
const IO_NQN = 'nqn.2024-01.io.example:subsys1';

const report: Record<string, unknown> = {};
const step = (name: string, value: unknown): void => {
  report[name] = value;
  process.stderr.write(`[scenario] ${name}: ${JSON.stringify(value)}\n`);
};

// the in-VM target, reconfigured through the same configfs helpers the host-side harness uses
const nvmet = new NvmetControl(async (cmd) => {
  const r = await execa('sh', ['-c', cmd], { reject: false, all: true, timeout: 30_000 });
  return { code: r.exitCode ?? 255, out: r.all ?? '' };
});

async function main(): Promise<void> {
  const supported = await readSupportedOptions();
  assert.ok(supported, 'kernel lists its options');
  step(
    'supported',
    ['host_iface', 'discovery', 'keep_alive_tmo'].filter((o) => supported.has(o)),
  );
  const f = await detectKernelFeatures();
  step('features', {
    hostIface: f.hostIface,
    discovery: f.discovery,
    dhchapSecret: f.dhchapSecret,
    warning: f.warning ?? null,
  });

  const events: Uevent[] = [];
  const mon = new UeventMonitor();
  mon.on('event', (e) => events.push(e));
  await mon.start();
  // the VM runs systemd-udevd: the events come through libudev (node-udev), the path stas takes on a real host
  step('ueventBackend', mon.backend);
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    // --- persistent discovery controller through /dev/nvme-fabrics
    const t0 = Date.now();
    const dc = await fabricsConnect(
      {
        nqn: WELL_KNOWN_DISCOVERY_NQN,
        transport: 'tcp',
        traddr: TARGET,
        trsvcid: '8009',
        hostnqn: HOSTNQN,
        hostid: HOSTID,
        keepAliveTmo: 30,
      },
      { supported },
    );
    cleanups.push(() => deleteController(dc.device).catch(() => undefined));
    step('dcConnect', { ...dc, ms: Date.now() - t0 });
    const dcCtrl = await waitFor(
      'DC live',
      async () => {
        const c = await readController(dc.device);
        return c?.state === 'live' ? c : undefined;
      },
      30_000,
    );
    assert.equal(dcCtrl.subsysnqn, WELL_KNOWN_DISCOVERY_NQN);
    assert.equal(dcCtrl.transport, 'tcp');
    assert.equal(dcCtrl.hostnqn, HOSTNQN);
    assert.equal(dcCtrl.address.traddr, TARGET);
    assert.equal(dcCtrl.address.trsvcid, '8009');
    step('dcSysfs', {
      state: dcCtrl.state,
      cntrltype: dcCtrl.cntrltype,
      dctype: dcCtrl.dctype,
      address: dcCtrl.addressRaw,
      cntlid: dcCtrl.cntlid,
    });
    const addEv = await waitForUevent(mon, (e) => e.action === 'add' && ueventDeviceName(e) === dc.device, 5_000).catch(
      () => events.find((e) => e.action === 'add' && ueventDeviceName(e) === dc.device),
    );
    assert.ok(addEv, 'add uevent for the DC');
    const cand = {
      transport: 'tcp',
      traddr: '::ffff:127.0.0.1',
      trsvcid: '8009',
      subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
      hostTraddr: '',
      hostIface: '',
      hostNqn: HOSTNQN,
    };
    assert.equal(connectionMatches(cand, connectionOf(dcCtrl, addEv.properties)), true, 'adoption match of our DC');
    assert.equal(connectionMatches({ ...cand, hostNqn: 'nqn.other' }, connectionOf(dcCtrl, addEv.properties)), false);

    const subsys = await execa('nvme', ['list-subsys', '-o', 'json'], { timeout: 10_000 });
    assert.match(subsys.stdout, new RegExp(WELL_KNOWN_DISCOVERY_NQN.replace(/\./g, '\\.')));
    assert.match(subsys.stdout, new RegExp(`"Name"\\s*:\\s*"${dc.device}"`));
    step('listSubsys', true);

    // --- discovery log through nvme-cli, decoded by the shared decoder
    const log1 = await getKernelDiscoveryLog(dc.device);
    const nqns1 = log1.entries.map((e) => e.subnqn);
    step('log1', { genctr: String(log1.genctr), numrec: String(log1.numrec), nqns: nqns1 });
    assert.ok(nqns1.includes(IO_NQN));
    assert.ok(log1.entries.length >= 4, 'log longer than 4 KiB, where the RAE trap bites');

    // --- AEN 1: link a new subsystem to the discovery port
    const aens: number[] = [];
    for (const nqn of [NEW1, NEW2]) {
      await nvmet.addSubsystem(nqn, { namespaces: 1, sizeMiB: 8 });
      cleanups.push(() => nvmet.removeSubsystem(nqn).catch(() => undefined));
      const aen = waitForUevent(mon, (e) => isDiscoveryLogChange(e) && ueventDeviceName(e) === dc.device, 30_000);
      const tLink = Date.now();
      await nvmet.linkSubsystem(nqn, 2);
      await aen;
      aens.push(Date.now() - tLink);
      const log = await getKernelDiscoveryLog(dc.device);
      const nqns = log.entries.map((e) => e.subnqn);
      assert.ok(nqns.includes(nqn), `${nqn} in the log after its AEN`);
      assert.ok(log.genctr > log1.genctr);
      step(`logAfter${nqn === NEW1 ? 1 : 2}`, { genctr: String(log.genctr), numrec: String(log.numrec) });
    }
    step('aenMs', aens);

    // --- I/O controller: connect, see it in sysfs with its namespace, delete it
    const ioc = await fabricsConnect(
      {
        nqn: IO_NQN,
        transport: 'tcp',
        traddr: TARGET,
        trsvcid: '4420',
        hostnqn: HOSTNQN,
        hostid: HOSTID,
        nrIoQueues: 1,
        ctrlLossTmo: 600,
      },
      { supported },
    );
    cleanups.push(() => deleteController(ioc.device).catch(() => undefined));
    const iocCtrl = await waitFor(
      'IOC live with a namespace',
      async () => {
        const c = await readController(ioc.device);
        return c?.state === 'live' && c.children.length > 0 ? c : undefined;
      },
      30_000,
    );
    assert.equal(iocCtrl.subsysnqn, IO_NQN);
    assert.equal(iocCtrl.cntrltype, 'io');
    step('ioc', {
      device: ioc.device,
      cntlid: ioc.cntlid,
      children: iocCtrl.children,
      model: iocCtrl.model,
      serial: iocCtrl.serial,
    });
    assert.ok((await listControllers()).some((c) => c.name === ioc.device));

    // a second connect with the same parameters is refused by the kernel (EALREADY) with a readable error
    const dup = await fabricsConnect(
      { nqn: IO_NQN, transport: 'tcp', traddr: TARGET, trsvcid: '4420', hostnqn: HOSTNQN, hostid: HOSTID },
      { supported },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(dup instanceof FabricsError, `duplicate connect must fail, got ${String(dup)}`);
    step('duplicate', dup.code);

    const removed = waitForUevent(mon, (e) => e.action === 'remove' && ueventDeviceName(e) === ioc.device, 30_000);
    await deleteController(ioc.device);
    await removed;
    assert.equal(await readController(ioc.device), undefined);
    step('iocDeleted', true);

    // connect errors come back as errno with a readable message
    const refused = await fabricsConnect({
      nqn: IO_NQN,
      transport: 'tcp',
      traddr: TARGET,
      trsvcid: '4999',
      hostnqn: HOSTNQN,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof FabricsError);
    step('refused', { code: refused.code, message: refused.message });

    await deleteController(dc.device);
    await waitFor('DC gone', async () => ((await readController(dc.device)) === undefined ? true : undefined), 30_000);
    step('dcDeleted', true);
  } finally {
    for (const c of cleanups.reverse()) await c();
    mon.stop();
  }
  step(
    'eventsSeen',
    events.map(
      (e) => `${e.action}:${ueventDeviceName(e)}${e.properties['NVME_AEN'] ? `:${e.properties['NVME_AEN']}` : ''}`,
    ),
  );
  printReport(report);
  process.exit(0); // node-udev's netlink socket stays open for the life of the process (libudev-source.ts)
}

main().catch((e: unknown) => {
  process.stdout.write(`SCENARIO-FAILED ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
