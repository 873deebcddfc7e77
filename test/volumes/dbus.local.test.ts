// Storage1/Volume1/Snapshot1/Job1 on a private system bus (the project's policy) over real qcow2 files:
// object tree under ObjectManager, jobs with Completed signals, PropertiesChanged, named errors for bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dbus from 'dbus-next';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { callsTo } from '../harness/dbus-calls.js';
import {
  connectSystemBus,
  waitConnected,
  requestBusName,
  callMethod,
  type MessageBus,
} from '../../daemons/dbus/bus.js';
import {
  StorageDBus,
  STORAGE_PATH,
  STORAGE_IFACE,
  VOLUME_IFACE,
  SNAPSHOT_IFACE,
  JOB_IFACE,
  OBJECT_MANAGER_IFACE,
} from '../../daemons/volumes/dbus/storage-objects.js';
import { openQcow2, qemuReads, qemuWrite, type Qcow2Fixture } from './helpers.js';
import { GiB, TiB } from '../../daemons/volumes/size.js';

const DEST = 'org.nvmexpress.stac';
let bus: PrivateBus;
let server: MessageBus;
let client: MessageBus;
let fx: Qcow2Fixture;
let adapter: StorageDBus;

before(async () => {
  bus = await startPrivateBus();
  process.env.DBUS_SYSTEM_BUS_ADDRESS = bus.address;
  server = connectSystemBus();
  await waitConnected(server);
  await requestBusName(server, DEST);
  fx = await openQcow2();
  adapter = new StorageDBus(server, fx.service, fx.jobs);
  await adapter.start();
  client = connectSystemBus();
  await waitConnected(client);
});

after(async () => {
  adapter?.stop();
  client?.disconnect();
  server?.disconnect();
  await bus?.stop();
  await fx?.cleanup();
});

const { call, prop } = callsTo(() => client, DEST);
async function errorName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { type?: string }).type ?? String(e);
  }
  return 'no error';
}
/** resolves with the job's final State, waiting on its Completed signal (or an already finished state) */
async function jobOutcome(path: string): Promise<{ state: string; result: string; error: string }> {
  const obj = await client.getProxyObject(DEST, path);
  const iface = obj.getInterface(JOB_IFACE);
  const done = new Promise<void>((resolve) => iface.on('Completed', () => resolve()));
  const state = String(await prop(path, JOB_IFACE, 'State'));
  if (state === 'queued' || state === 'running')
    await Promise.race([
      done,
      new Promise((_, rej) => setTimeout(() => rej(new Error(`job ${path} not done in 60 s`)), 60_000)),
    ]);
  return {
    state: String(await prop(path, JOB_IFACE, 'State')),
    result: String(await prop(path, JOB_IFACE, 'Result')),
    error: String(await prop(path, JOB_IFACE, 'ErrorName')),
  };
}

test('D-Bus: create, snapshot, protect, clone job, rollback job, rename with PropertiesChanged, delete', async () => {
  const added: string[] = [];
  const removed: string[] = [];
  const mgr = await client.getProxyObject(DEST, STORAGE_PATH);
  const om = mgr.getInterface(OBJECT_MANAGER_IFACE);
  om.on('InterfacesAdded', (p: string) => added.push(p));
  om.on('InterfacesRemoved', (p: string) => removed.push(p));

  const [vpath] = (await call(STORAGE_PATH, STORAGE_IFACE, 'CreateVolume', 'sta{sv}', [
    'dv1',
    BigInt(GiB),
    { qos_iops: new dbus.Variant('t', 1000n), performance_priority: new dbus.Variant('s', 'high') },
  ])) as [string];
  assert.match(vpath, /^\/org\/nvmexpress\/stac\/storage\/pool\/default\/[0-9a-f]+$/);
  assert.equal(await prop(vpath, VOLUME_IFACE, 'Name'), 'dv1');
  assert.equal(await prop(vpath, VOLUME_IFACE, 'Size'), BigInt(GiB));
  assert.equal(await prop(vpath, VOLUME_IFACE, 'QosIops'), 1000n);
  assert.equal(await prop(vpath, VOLUME_IFACE, 'PerformancePriority'), 'high');
  assert.deepEqual(await call(STORAGE_PATH, STORAGE_IFACE, 'FindVolumeByName', 's', ['dv1']), [vpath]);
  await qemuWrite(fx.file('dv1'), '0xab', '0', '8M');

  const [spath] = (await call(vpath, VOLUME_IFACE, 'CreateSnapshot', 's', ['s1'])) as [string];
  assert.equal(spath, `${vpath}/s1`);
  assert.equal(await prop(spath, SNAPSHOT_IFACE, 'Protected'), false);
  await call(spath, SNAPSHOT_IFACE, 'Protect');
  assert.equal(await prop(spath, SNAPSHOT_IFACE, 'Protected'), true);

  const [cjob] = (await call(vpath, VOLUME_IFACE, 'Clone', 'ssa{sv}', ['s1', 'dclone', {}])) as [string];
  assert.match(cjob, /\/job\//);
  const c = await jobOutcome(cjob);
  assert.deepEqual(c, { state: 'succeeded', result: 'dclone', error: '' });
  const [cpath] = (await call(STORAGE_PATH, STORAGE_IFACE, 'FindVolumeByName', 's', ['dclone'])) as [string];
  assert.equal(await prop(cpath, VOLUME_IFACE, 'Parent'), 'dv1@s1');
  assert.ok(await qemuReads(fx.file('dclone'), '0xab', '0', '8M'));
  assert.deepEqual(await call(spath, SNAPSHOT_IFACE, 'Children'), [['dclone']]);
  assert.equal(await errorName(call(spath, SNAPSHOT_IFACE, 'Unprotect')), 'org.nvmexpress.stac.Error.Busy');
  assert.equal(await errorName(call(spath, SNAPSHOT_IFACE, 'Delete')), 'org.nvmexpress.stac.Error.Busy');

  // rollback: the job result is the automatic backup snapshot, which appears as an object
  await qemuWrite(fx.file('dv1'), '0xcd', '0', '4M');
  const [rjob] = (await call(vpath, VOLUME_IFACE, 'Rollback', 'sb', ['s1', false])) as [string];
  const r = await jobOutcome(rjob);
  assert.equal(r.state, 'succeeded');
  assert.match(r.result, /^auto-before-rollback-/);
  assert.ok(await qemuReads(fx.file('dv1'), '0xab', '0', '8M'));
  const [snaps] = (await call(vpath, VOLUME_IFACE, 'ListSnapshots')) as [string[]];
  assert.equal(snaps.length, 2);
  assert.equal(await prop(vpath, VOLUME_IFACE, 'SnapshotCount'), 2);

  // rename: same path, PropertiesChanged(Name)
  const changes: Record<string, unknown>[] = [];
  await callMethod(client, {
    destination: 'org.freedesktop.DBus',
    path: '/org/freedesktop/DBus',
    interface: 'org.freedesktop.DBus',
    member: 'AddMatch',
    signature: 's',
    body: [`type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='${vpath}'`],
  });
  client.on('message', (m: dbus.Message) => {
    if (m.member !== 'PropertiesChanged' || m.path !== vpath) return;
    const ch = (m.body as [string, Record<string, dbus.Variant>])[1];
    changes.push(Object.fromEntries(Object.entries(ch).map(([k, v]) => [k, v.value])));
  });
  await call(vpath, VOLUME_IFACE, 'Rename', 's', ['dv1-renamed']);
  assert.equal(await prop(vpath, VOLUME_IFACE, 'Name'), 'dv1-renamed');
  for (let i = 0; i < 50 && !changes.some((c) => c.Name === 'dv1-renamed'); i++)
    await new Promise((res) => setTimeout(res, 20));
  assert.ok(
    changes.some((c) => c.Name === 'dv1-renamed'),
    JSON.stringify(changes),
  );

  // GetManagedObjects holds volumes, snapshots and jobs
  const [objs] = (await call(STORAGE_PATH, OBJECT_MANAGER_IFACE, 'GetManagedObjects')) as [
    Record<string, Record<string, unknown>>,
  ];
  assert.ok(objs[vpath]?.[VOLUME_IFACE]);
  assert.ok(objs[spath]?.[SNAPSHOT_IFACE]);
  assert.ok(objs[cjob]?.[JOB_IFACE]);

  // flatten, then forced delete of the parent
  assert.equal((await jobOutcome(((await call(cpath, VOLUME_IFACE, 'Flatten')) as [string])[0])).state, 'succeeded');
  assert.equal(await prop(cpath, VOLUME_IFACE, 'Parent'), '');
  await call(spath, SNAPSHOT_IFACE, 'Unprotect');
  const d = await jobOutcome(((await call(vpath, VOLUME_IFACE, 'Delete', 'b', [true])) as [string])[0]);
  assert.equal(d.state, 'succeeded');
  for (let i = 0; i < 50 && !removed.includes(vpath); i++) await new Promise((res) => setTimeout(res, 20));
  assert.ok(removed.includes(vpath) && removed.includes(spath), `removed: ${removed.join(' ')}`);
  assert.ok(added.includes(vpath) && added.includes(cpath));
  assert.equal(
    await errorName(call(STORAGE_PATH, STORAGE_IFACE, 'FindVolumeByName', 's', ['dv1-renamed'])),
    'org.nvmexpress.stac.Error.NotFound',
  );
});

test('D-Bus: bad input gives named errors and changes nothing', async () => {
  const create = (name: string, size: bigint, opts: Record<string, dbus.Variant> = {}) =>
    errorName(call(STORAGE_PATH, STORAGE_IFACE, 'CreateVolume', 'sta{sv}', [name, size, opts]));
  const before = ((await call(STORAGE_PATH, STORAGE_IFACE, 'ListVolumes')) as [string[]])[0];
  const INVALID = 'org.nvmexpress.stac.Error.InvalidArgument';
  assert.equal(await create('../x', BigInt(GiB)), INVALID);
  assert.equal(await create('', BigInt(GiB)), INVALID);
  assert.equal(await create('x'.repeat(300), BigInt(GiB)), INVALID);
  assert.equal(await create('ok', 0n), INVALID);
  assert.equal(await create('ok', BigInt(512 * TiB) + 512n), INVALID);
  assert.equal(await create('ok', 1000n), INVALID);
  assert.equal(await create('ok', 2n ** 64n - 1n), INVALID);
  assert.equal(await create('ok', BigInt(GiB), { bogus: new dbus.Variant('s', 'x') }), INVALID);
  assert.equal(await create('ok', BigInt(GiB), { qos_iops: new dbus.Variant('s', 'many') }), INVALID);
  assert.equal(
    await create('ok', BigInt(GiB), { pool: new dbus.Variant('s', 'nope') }),
    'org.nvmexpress.stac.Error.NotFound',
  );
  assert.equal(
    await errorName(call(STORAGE_PATH, STORAGE_IFACE, 'FindVolumeByName', 's', ['nope'])),
    'org.nvmexpress.stac.Error.NotFound',
  );
  assert.match(
    await errorName(call(`${STORAGE_PATH}/job/ffff`, JOB_IFACE, 'Cancel')),
    /^org\.freedesktop\.DBus\.Error\.Unknown(Object|Method)$/,
  );
  const [vpath] = (await call(STORAGE_PATH, STORAGE_IFACE, 'CreateVolume', 'sta{sv}', ['bad-in', BigInt(GiB), {}])) as [
    string,
  ];
  assert.equal(await errorName(call(vpath, VOLUME_IFACE, 'CreateSnapshot', 's', ['../s'])), INVALID);
  assert.equal(
    await errorName(call(vpath, VOLUME_IFACE, 'Rollback', 'sb', ['nope', false])),
    'org.nvmexpress.stac.Error.NotFound',
  );
  assert.equal(await errorName(call(vpath, VOLUME_IFACE, 'Resize', 'tbb', [0n, false, false])), INVALID);
  assert.equal(await errorName(call(vpath, VOLUME_IFACE, 'Resize', 'tbb', [BigInt(GiB / 2), false, false])), INVALID);
  assert.equal(await errorName(call(vpath, VOLUME_IFACE, 'Rename', 's', ['a/b'])), INVALID);
  assert.equal(
    await errorName(call(vpath, VOLUME_IFACE, 'FindSnapshot', 's', ['nope'])),
    'org.nvmexpress.stac.Error.NotFound',
  );
  const after = ((await call(STORAGE_PATH, STORAGE_IFACE, 'ListVolumes')) as [string[]])[0];
  assert.deepEqual(after, [...before, vpath].sort());
  assert.equal(await prop(vpath, VOLUME_IFACE, 'Size'), BigInt(GiB));
  assert.equal(await prop(vpath, VOLUME_IFACE, 'SnapshotCount'), 0);
});
