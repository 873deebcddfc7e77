// Runs INSIDE the kernel-host VM (started by stacd.peers.test.ts), as root: the compiled stacd on a private bus
// with the VM's real nvmet. stacctl creates an access path and maps a host; nvme-cli discovers and connects as
// that host and is refused as another; bad input is refused by name with nothing changed (model and configfs);
// a non-root caller is refused by the bus policy; a stacd restart keeps the export; rm leaves the hand-made nvmet
// configuration exactly as it was. Prints one JSON report on the last line.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { Configfs } from '../../../daemons/targets/configfs.js';
import { listControllers } from '../../../daemons/nvme/kernel/sysfs.js';
import { callMethod } from '../../../daemons/dbus/bus.js';
import { VolumeService } from '../../../daemons/volumes/service.js';
import { runCli } from '../../harness/daemons.js';
import { startConnectorRig, waitFor } from '../../connector/rig.js';

const H1 = 'nqn.2014-08.org.nvmexpress:uuid:5a1e0011-0000-4000-8000-000000000001';
const H2 = 'nqn.2014-08.org.nvmexpress:uuid:5a1e0012-0000-4000-8000-000000000002';
const PORT = '4431';
const MANAGER = {
  destination: 'org.nvmexpress.stac',
  path: '/org/nvmexpress/stac/storage/access_path',
  interface: 'org.nvmexpress.stac.AccessPathManager1',
};
const AP_IFACE = 'org.nvmexpress.stac.AccessPath1';
const report: Record<string, unknown> = {};
const step = (k: string, v: unknown): void => {
  report[k] = v;
  process.stderr.write(`[scenario] ${k}: ${JSON.stringify(v)}\n`);
};
const cfs = new Configfs();
const handMade = await cfs.read();
// the storage daemon's kernel export is a FUSE file: the VM boots without the fuse module loaded
await execa('modprobe', ['fuse'], { timeout: 60_000 });

const rig = await startConnectorRig({
  stacdConf: '[Global]\n',
  env: { STAS_FABRICS_DRIVER: 'kernel' },
  nameTimeoutMs: 180_000,
});
const cli = async (...args: string[]) => {
  const r = await runCli('stacctl', args, { busAddress: rig.bus.address, env: rig.env, timeoutMs: 120_000 });
  return r;
};
const ok = async (...args: string[]): Promise<string> => {
  const r = await cli(...args);
  assert.equal(r.code, 0, `stacctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const apCall = async (member: string, signature: string, body: unknown[]) => {
  const [path] = await callMethod(rig.client, { ...MANAGER, member: 'FindAccessPath', signature: 's', body: ['ap1'] });
  return callMethod(
    rig.client,
    { destination: MANAGER.destination, path: String(path), interface: AP_IFACE, member, signature, body },
    60_000,
  );
};
/** a refused call: its D-Bus error name and text; the model and configfs are unchanged */
const model = async (): Promise<string> => {
  const [objs] = await callMethod(
    rig.client,
    {
      destination: MANAGER.destination,
      path: '/org/nvmexpress/stac/storage',
      interface: 'org.freedesktop.DBus.ObjectManager',
      member: 'GetManagedObjects',
    },
    60_000,
  );
  return JSON.stringify(objs, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
};
const refused = async (what: string, call: () => Promise<unknown>, name: string, text: RegExp): Promise<void> => {
  const modelBefore = await model();
  const before = await cfs.read();
  await assert.rejects(call(), (e: Error & { type?: string }) => {
    assert.equal(e.type, `org.nvmexpress.stac.Error.${name}`, `${what}: ${e.message}`);
    assert.match(e.message, text, what);
    return true;
  });
  assert.deepEqual(await cfs.read(), before, `${what}: configfs changed`);
  assert.equal(await model(), modelBefore, `${what}: model changed`);
};
const nvme = (args: string[]) => execa('nvme', args, { timeout: 60_000, reject: false, all: true });
const devices = async (nqn: string): Promise<string[]> =>
  (await listControllers()).filter((c) => c.subsysnqn === nqn && c.state !== 'deleting').map((c) => c.name);

let nqn = '';
let removed = false;
try {
  const created = JSON.parse(await ok('access-path', 'create', 'ap1', '--port', `tcp:127.0.0.1:${PORT}`, '--json')) as {
    nqn: string;
    ports: string[];
  };
  nqn = created.nqn;
  assert.deepEqual(created.ports, [`tcp:127.0.0.1:${PORT}`]);
  assert.match(nqn, /^nqn\.2024-01\.org\.nvmexpress\.stas:[0-9a-f]{12}:ap1$/);
  const st = await cfs.read();
  const sub = st.subsystems.find((s) => s.nqn === nqn);
  assert.ok(sub && !sub.allowAnyHost, 'subsystem created, allow_any_host off');
  assert.ok(
    st.ports.some((p) => p.trsvcid === PORT && p.traddr === '127.0.0.1' && p.subsystems.includes(nqn)),
    'port linked',
  );
  step('created', nqn);

  // bad input, by name, nothing changed
  await refused(
    'hand-made port',
    () =>
      callMethod(
        rig.client,
        { ...MANAGER, member: 'CreateAccessPath', signature: 'sasa{sv}', body: ['ap2', ['tcp:127.0.0.1:4420'], {}] },
        60_000,
      ),
    'Busy',
    /tcp:127\.0\.0\.1:4420 is already used by nvmet port 1 .*nqn\.2024-01\.io\.example:subsys1.*which stas did not create/,
  );
  await refused(
    'invalid NQN',
    () => apCall('MapHost', 'sa{sv}', ['nqn.bad host', {}]),
    'InvalidArgument',
    /host NQN: "nqn\.bad host" is not an NVMe qualified name/,
  );
  await refused(
    'unknown volume',
    () => apCall('AddVolume', 'su', ['no-such-volume', 0]),
    'NotFound',
    /volume "no-such-volume" not found/,
  );
  const keyFile = join(rig.etc.dir, 'h1.key');
  await refused(
    'missing key file',
    () => apCall('MapHost', 'sa{sv}', [H1, { dhchap_key_file: new dbus.Variant('s', keyFile) }]),
    'NotFound',
    /key file .*h1\.key: missing/,
  );
  writeFileSync(keyFile, 'DHHC-1:00:ia6zGodOr5SEG14W3sWJIlZ3TTM+7yxl6hVF2pGzOXtgSHvP:\n');
  chmodSync(keyFile, 0o644);
  await refused(
    'world-readable key file',
    () => apCall('MapHost', 'sa{sv}', [H1, { dhchap_key_file: new dbus.Variant('s', keyFile) }]),
    'InvalidArgument',
    /mode 0644.*chmod 600/,
  );
  chmodSync(keyFile, 0o600);
  const [hostAuth] = (await callMethod(rig.client, {
    destination: MANAGER.destination,
    path: MANAGER.path,
    interface: 'org.freedesktop.DBus.Properties',
    member: 'Get',
    signature: 'ss',
    body: [MANAGER.interface, 'HostAuthSupported'],
  })) as [dbus.Variant];
  if (!hostAuth.value)
    await refused(
      'key without target auth',
      () => apCall('MapHost', 'sa{sv}', [H1, { dhchap_key_file: new dbus.Variant('s', keyFile) }]),
      'NotSupported',
      /CONFIG_NVME_TARGET_AUTH/,
    );
  const nonRoot = await runCli('stacctl', ['access-path', 'map-host', 'ap1', H2], {
    busAddress: rig.bus.address,
    env: rig.env,
    user: 'nobody',
    timeoutMs: 120_000,
  });
  assert.notEqual(nonRoot.code, 0, 'a non-root caller may not map hosts');
  step('refusals', { hostAuth: hostAuth.value, nonRoot: nonRoot.stderr.trim() });

  // volumes: served through the storage daemon's export where this build has it
  await ok('volume', 'create', 'v1', '--size', '64M');
  if (typeof (VolumeService.prototype as Partial<{ exportVolume: unknown }>).exportVolume === 'function') {
    assert.match(await ok('access-path', 'add-volume', 'ap1', 'v1'), /volume v1 is namespace 1 of ap1/);
    await ok('volume', 'create', 'v2', '--size', '64M');
    await refused(
      'duplicate NSID',
      () => apCall('AddVolume', 'su', ['v2', 1]),
      'AlreadyExists',
      /namespace id 1 is already volume "v1"/,
    );
    const rm = await cli('volume', 'rm', 'v1');
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /exported through access path\(s\) ap1/);
    step('volumes', 'exported');
  } else {
    await refused(
      'no storage daemon',
      () => apCall('AddVolume', 'su', ['v1', 0]),
      'NotSupported',
      /needs the storage daemon/,
    );
    step('volumes', 'this build has no storage-daemon export: refused by name');
  }

  // the mapping group: H1 sees and connects; H2 sees nothing and is refused at Connect
  await ok('access-path', 'map-host', 'ap1', H1);
  const show = JSON.parse(await ok('access-path', 'show', 'ap1', '--json')) as { hosts: { nqn: string }[] };
  assert.deepEqual(
    show.hosts.map((h) => h.nqn),
    [H1],
  );
  const table = await ok('access-path', 'ls');
  assert.match(table, /^NAME\s+PORTS\s+HOSTS\s+VOLUMES\s+NQN\nap1\s+tcp:127\.0\.0\.1:4431\s+1\s+\d\s+nqn\./);
  const d1 = await nvme(['discover', '-t', 'tcp', '-a', '127.0.0.1', '-s', PORT, `--hostnqn=${H1}`]);
  assert.ok(d1.stdout.includes(nqn), `H1 discovery:\n${d1.all}`);
  const d2 = await nvme(['discover', '-t', 'tcp', '-a', '127.0.0.1', '-s', PORT, `--hostnqn=${H2}`]);
  assert.ok(!d2.stdout.includes(nqn), `H2 discovery lists the subsystem:\n${d2.all}`);
  const c2 = await nvme(['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', PORT, '-n', nqn, `--hostnqn=${H2}`]);
  assert.notEqual(c2.exitCode, 0, c2.all);
  const c1 = await nvme(['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', PORT, '-n', nqn, `--hostnqn=${H1}`]);
  assert.equal(c1.exitCode, 0, c1.all);
  const ctrl = await waitFor('H1 controller', async () => (await devices(nqn))[0], 30_000);
  step('mappingGroup', { ctrl });

  // stacd restarts: the export stays (same controller, nvmet untouched), the model comes back
  const beforeRestart = await cfs.read();
  await rig.restartStacd();
  assert.deepEqual(await cfs.read(), beforeRestart);
  assert.deepEqual(await devices(nqn), [ctrl]);
  assert.match(
    await model(),
    new RegExp(`"Nqn":\\{[^}]*"${nqn.replace(/\./g, '\\.')}"`),
    'the access path is back on D-Bus',
  );
  step('restartKeeps', true);

  await nvme(['disconnect', '-n', nqn]);
  await waitFor('disconnected', async () => ((await devices(nqn)).length === 0 ? true : undefined), 30_000);
  assert.match(await ok('access-path', 'rm', 'ap1'), /deleted access path ap1/);
  assert.deepEqual(await cfs.read(), handMade, 'only stacd-made nvmet objects were removed');
  assert.equal(await ok('access-path', 'ls'), 'No access paths.\n');
  removed = true;
  step('removed', true);
  console.log(JSON.stringify({ ok: true, ...report }));
} catch (e) {
  console.log(
    JSON.stringify({
      ok: false,
      error: (e as Error).stack ?? String(e),
      ...report,
      log: rig.stacd.output().slice(-4000),
    }),
  );
  process.exitCode = 1;
} finally {
  if (nqn) await nvme(['disconnect', '-n', nqn]);
  if (!removed) await cli('access-path', 'rm', 'ap1').catch(() => undefined);
  await rig.stop();
}
