// Force over D-Bus: stacctl volume resize/rollback/rm of a volume that an access path exports are refused (the
// D-Bus error names the access path and the consequence, nothing changes) and go through with --force. The
// Volume1 adapter on a private bus over real qcow2 files, the real stacctl as a process. The export check
// stands for AccessPathService.mappedIn (there is no kernel NVMe target here; the kernel-host VM scenario runs
// the forced rollback against stacd with nvmet).
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { runCli } from '../harness/daemons.js';
import { connectSystemBus, waitConnected, requestBusName, type MessageBus } from '../../daemons/dbus/bus.js';
import { StorageDBus } from '../../daemons/volumes/dbus/storage-objects.js';
import { openQcow2, qemuReads, qemuWrite, type Qcow2Fixture } from '../volumes/helpers.js';

let bus: PrivateBus;
let server: MessageBus;
let fx: Qcow2Fixture;
let adapter: StorageDBus;
const exported = new Set<string>();

const stacctl = (...args: string[]) => runCli('stacctl', args, { busAddress: bus.address, timeoutMs: 120_000 });

before(async () => {
  bus = await startPrivateBus();
  process.env.DBUS_SYSTEM_BUS_ADDRESS = bus.address;
  server = connectSystemBus();
  await waitConnected(server);
  await requestBusName(server, 'org.nvmexpress.stac');
  fx = await openQcow2();
  fx.service.setExportCheck((v) => (exported.has(v) ? ['ap1'] : []));
  adapter = new StorageDBus(server, fx.service, fx.jobs);
  await adapter.start();
});
after(async () => {
  adapter?.stop();
  server?.disconnect();
  await bus?.stop();
  await fx?.cleanup();
});

test('shrink, rollback and delete of an exported volume: refused by name without --force, done with it', async () => {
  await fx.service.createVolume({ name: 'v1', size: 64 << 20 });
  await qemuWrite(fx.file('v1'), '0x5a', '0', '1M');
  await fx.service.createSnapshot('v1', 's1');
  await qemuWrite(fx.file('v1'), '0xa5', '0', '1M');
  await fx.service.createVolume({ name: 'v2', size: 64 << 20 });
  exported.add('v1');
  exported.add('v2');

  const refusal = async (args: string[], consequence: RegExp, v = 'v1'): Promise<void> => {
    const r = await stacctl(...args);
    assert.notEqual(r.code, 0, `stacctl ${args.join(' ')} went through`);
    assert.ok(r.stderr.includes(`volume "${v}" is exported through access path(s) ap1`), r.stderr);
    assert.match(r.stderr, /Error\.Busy/, r.stderr);
    assert.match(r.stderr, consequence, r.stderr);
    assert.match(r.stderr, /or force it/, r.stderr);
  };
  await refusal(['volume', 'resize', 'v1', '32M', '--allow-shrink'], /shrinking it cuts off data the hosts address/);
  await refusal(['volume', 'rollback', 'v1', 's1'], /a rollback replaces the data under the hosts using it/);
  await refusal(['volume', 'rm', 'v2'], /deleting it takes it away from the hosts using it/, 'v2');
  const same = await fx.service.getVolume('v1');
  assert.equal(same.size, 64 << 20, 'a refused shrink changed the size');
  assert.equal(same.snapshotCount, 1, 'a refused rollback took a backup snapshot');
  assert.ok(await qemuReads(fx.file('v1'), '0xa5', '0', '1M'), 'a refused rollback changed the data');

  // --help says what force does to the hosts
  for (const cmd of ['resize', 'rollback', 'rm']) {
    const h = await stacctl('volume', cmd, '--help');
    const text = h.stdout.replace(/\s+/g, ' ');
    assert.match(text, /--force [^-]*exported through an access path: [^-]*hosts/, `volume ${cmd} --help`);
  }

  const rb = await stacctl('volume', 'rollback', 'v1', 's1', '--force', '--json');
  assert.equal(rb.code, 0, rb.stderr);
  assert.ok(await qemuReads(fx.file('v1'), '0x5a', '0', '1M'), 'forced rollback: the snapshot data is back');
  const rs = await stacctl('volume', 'resize', 'v1', '32M', '--allow-shrink', '--force');
  assert.equal(rs.code, 0, rs.stderr);
  assert.equal((await fx.service.getVolume('v1')).size, 32 << 20);
  assert.ok(await fx.service.findVolume('v2'), 'a refused delete deleted');
  const rm = await stacctl('volume', 'rm', 'v2', '--force');
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(await fx.service.findVolume('v2'), null);
});
