// Runs INSIDE the kernel-host VM (started by nvmet.peers.test.ts), as root, against the VM's real nvmet: the
// targets module exports a raw file through its own subsystem and port, nvme-cli connects to it as a mapped host
// and is refused as another one, a second NvmetTarget over the same state keeps (and, after configfs loss,
// re-creates) the export with the same identities, refusals change nothing, and removing everything leaves the
// hand-made configuration exactly as it was. Prints one JSON report on the last line.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import {
  mkdtempSync,
  openSync,
  readSync,
  closeSync,
  readFileSync,
  readdirSync,
  existsSync,
  writeFileSync,
  truncateSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  NvmetTarget,
  Configfs,
  planNvmet,
  namespaceIdentity,
  subsystemSerial,
  SUBSYSTEM_MODEL,
  type SubsystemSpec,
} from '../../../daemons/targets/index.js';
import { listControllers } from '../../../daemons/nvme/kernel/sysfs.js';
import { waitFor } from '../../connector/rig.js';

const NQN = 'nqn.2014-08.org.nvmexpress:stas:test-ap-nvmet';
const H1 = 'nqn.2014-08.org.nvmexpress:uuid:5a1e0001-0000-4000-8000-000000000001';
const H2 = 'nqn.2014-08.org.nvmexpress:uuid:5a1e0002-0000-4000-8000-000000000002';
const PORT = '4430';
const report: Record<string, unknown> = {};
const step = (k: string, v: unknown): void => {
  report[k] = v;
  process.stderr.write(`[scenario] ${k}: ${JSON.stringify(v)}\n`);
};

const dir = mkdtempSync('/data/stas-nvmet-'); // tmpfs of the in-VM target: needs buffered_io
const stateFile = join(dir, 'state', 'nvmet-owned.json');
const raw = join(dir, 'vol1.raw');
writeFileSync(raw, '');
truncateSync(raw, 64 << 20);
const ident = namespaceIdentity('pool/vol1-id');
const spec = (over: Partial<SubsystemSpec> = {}): SubsystemSpec => ({
  nqn: NQN,
  serial: subsystemSerial(NQN),
  model: SUBSYSTEM_MODEL,
  ports: [{ trtype: 'tcp', adrfam: 'ipv4', traddr: '127.0.0.1', trsvcid: PORT }],
  hosts: [{ nqn: H1 }],
  namespaces: [{ nsid: 1, devicePath: raw, bufferedIo: true, ...ident }],
  ...over,
});
const cfs = new Configfs();
const devices = async (): Promise<string[]> =>
  (await listControllers()).filter((c) => c.subsysnqn === NQN && c.state !== 'deleting').map((c) => c.name);
const nvme = (args: string[]) => execa('nvme', args, { timeout: 60_000, reject: false, all: true });
const discover = (host: string) => nvme(['discover', '-t', 'tcp', '-a', '127.0.0.1', '-s', PORT, `--hostnqn=${host}`]);
const connect = (host: string) =>
  nvme(['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', PORT, '-n', NQN, `--hostnqn=${host}`]);

const handMade = await cfs.read();
try {
  const t1 = new NvmetTarget({ stateFile });
  await t1.open();
  step('hostAuthSupported', t1.hostAuthSupported);
  const n = await t1.reconcile([spec()]);
  step('created', n);
  const owned = t1.ownedObjects();
  assert.equal(owned.ports.length, 1);
  assert.deepEqual(owned.subsystems, [NQN]);
  assert.deepEqual(owned.hosts, [H1]);
  const recorded = JSON.parse(readFileSync(stateFile, 'utf8')) as { version: number };
  assert.equal(recorded.version, 1);

  // discovery: the mapped host sees the subsystem, another host does not
  const d1 = await discover(H1);
  assert.equal(d1.exitCode, 0, d1.all);
  assert.ok(
    d1.stdout.includes(`subnqn: ${NQN}`) || new RegExp(`subnqn:\\s+${NQN.replace(/\./g, '\\.')}`).test(d1.stdout),
    d1.stdout,
  );
  const d2 = await discover(H2);
  assert.ok(!d2.stdout.includes(NQN), `an unmapped host sees the subsystem in discovery:\n${d2.all}`);
  step('discovery', { mapped: true, unmappedSeesIt: false });

  // Connect: refused for the unmapped host, accepted for the mapped one
  const c2 = await connect(H2);
  assert.notEqual(c2.exitCode, 0, `unmapped host connected:\n${c2.all}`);
  assert.deepEqual(await devices(), []);
  step('unmappedRefused', c2.all.trim().split('\n').pop());
  const c1 = await connect(H1);
  assert.equal(c1.exitCode, 0, c1.all);
  const ctrl = (await waitFor('controller', async () => (await devices())[0], 30_000))!;
  const sysCtrl = `/sys/class/nvme/${ctrl}`;
  assert.equal(readFileSync(`${sysCtrl}/serial`, 'utf8').trim(), subsystemSerial(NQN));
  assert.equal(readFileSync(`${sysCtrl}/model`, 'utf8').trim(), SUBSYSTEM_MODEL);
  const nsDev = await waitFor(
    'namespace block device',
    async () =>
      readdirSync('/sys/block').find(
        (b) =>
          /^nvme\d+n\d+$/.test(b) &&
          existsSync(`/sys/block/${b}/device`) &&
          readFileSync(`/sys/block/${b}/device/subsysnqn`, 'utf8').trim() === NQN,
      ),
    30_000,
  );
  assert.equal(readFileSync(`/sys/block/${nsDev}/nguid`, 'utf8').trim(), ident.nguid);
  assert.equal(readFileSync(`/sys/block/${nsDev}/uuid`, 'utf8').trim(), ident.uuid);
  step('connected', { ctrl, nsDev });

  // a pattern written through the kernel host lands in the raw file
  const pattern = Buffer.alloc(4096, 0x5a);
  pattern.write(`stas-nvmet-${Date.now()}`);
  writeFileSync(join(dir, 'pattern'), pattern);
  await execa(
    'dd',
    [`if=${join(dir, 'pattern')}`, `of=/dev/${nsDev}`, 'bs=4096', 'seek=10', 'oflag=direct', 'conv=fsync'],
    { timeout: 60_000 },
  );
  const back = Buffer.alloc(4096);
  const fd = openSync(raw, 'r');
  readSync(fd, back, 0, 4096, 10 * 4096);
  closeSync(fd);
  assert.ok(back.equals(pattern), 'the raw file holds what the host wrote');
  step('dataPath', true);

  // "restart": a new instance over the same state changes nothing
  const t2 = new NvmetTarget({ stateFile });
  await t2.open();
  assert.equal(await t2.reconcile([spec()]), 0);
  assert.deepEqual(await devices(), [ctrl]);
  step('restartNoChange', true);

  // refusals: a hand-made port's address, a key without target auth; nothing changes
  const before = await cfs.read();
  await assert.rejects(
    t2.reconcile([spec({ ports: [{ trtype: 'tcp', adrfam: 'ipv4', traddr: '127.0.0.1', trsvcid: '4420' }] })]),
    (e: Error & { code?: string }) =>
      e.code === 'Busy' &&
      /tcp:127\.0\.0\.1:4420 is already used by nvmet port \d+ .*which stas did not create/.test(e.message),
  );
  if (!t2.hostAuthSupported)
    await assert.rejects(
      t2.reconcile([
        spec({ hosts: [{ nqn: H1, dhchapKey: 'DHHC-1:00:ia6zGodOr5SEG14W3sWJIlZ3TTM+7yxl6hVF2pGzOXtgSHvP:' }] }),
      ]),
      /CONFIG_NVME_TARGET_AUTH/,
    );
  assert.deepEqual(await cfs.read(), before, 'a refused change leaves configfs as it was');
  assert.deepEqual(t2.ownedObjects(), owned);
  step('refusalsChangeNothing', true);

  await nvme(['disconnect', '-n', NQN]);
  await waitFor('disconnected', async () => ((await devices()).length === 0 ? true : undefined), 30_000);

  // configfs loses stacd's objects (as after a reboot); the state brings them back with the same identities
  const loss = planNvmet(await cfs.read(), owned, [], { hostAuth: t2.hostAuthSupported });
  for (const o of loss.ops) await cfs.apply(o);
  assert.deepEqual(await cfs.read(), handMade);
  const t3 = new NvmetTarget({ stateFile });
  await t3.open();
  assert.ok((await t3.reconcile([spec()])) > 0);
  assert.deepEqual(t3.ownedObjects(), owned, 'same port id, same objects');
  const c3 = await connect(H1);
  assert.equal(c3.exitCode, 0, c3.all);
  const ctrl3 = (await waitFor('controller again', async () => (await devices())[0], 30_000))!;
  assert.equal(readFileSync(`/sys/class/nvme/${ctrl3}/serial`, 'utf8').trim(), subsystemSerial(NQN));
  step('recreatedFromState', ctrl3);
  await nvme(['disconnect', '-n', NQN]);
  await waitFor('disconnected again', async () => ((await devices()).length === 0 ? true : undefined), 30_000);

  // everything removed: the hand-made configuration is exactly what it was
  await t3.reconcile([]);
  assert.deepEqual(await cfs.read(), handMade);
  assert.deepEqual(t3.ownedObjects(), { ports: [], subsystems: [], hosts: [] });
  step('removedOnlyOwn', true);
  console.log(JSON.stringify({ ok: true, ...report }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: (e as Error).stack ?? String(e), ...report }));
  process.exitCode = 1;
} finally {
  await nvme(['disconnect', '-n', NQN]);
  const left = new NvmetTarget({ stateFile });
  await left
    .open()
    .then(() => left.reconcile([]))
    .catch((e: unknown) => process.stderr.write(`cleanup: ${(e as Error).message}\n`));
  rmSync(dir, { recursive: true, force: true });
}
