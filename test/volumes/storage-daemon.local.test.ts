// The embedded engine (issue #11, item 1) against a real qemu-storage-daemon: a volume open in it and being
// written through its NBD export (qemu-io over nbd+unix) is flattened (block-stream job: progress, cancel),
// snapshotted, grown and rolled back; the FUSE export nvmet serves follows; stacd SIGKILLed and restarted
// re-attaches to the daemon, whose exports never went away, and a journal/daemon mismatch leaves no orphan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { stat, readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { openQcow2, qemuWrite, qemuReads, tempDir, succeeded, finished } from './helpers.js';
import { StorageEngine } from '../../daemons/volumes/storage-daemon/engine.js';
import { MiB } from '../../daemons/volumes/size.js';
import { startPrivateBus } from '../harness/bus.js';
import { startDaemon, runCli } from '../harness/daemons.js';
import { makeTestEtc } from '../harness/env.js';
import { waitFor } from '../harness/wait.js';

async function nbdIo(uri: string, cmds: string[]): Promise<{ ok: boolean; out: string }> {
  const r = await execa('qemu-io', ['-f', 'raw', ...cmds.flatMap((c) => ['-c', c]), uri], {
    reject: false,
    timeout: 120_000,
  });
  const out = String(r.stdout) + String(r.stderr);
  return { ok: r.exitCode === 0 && !/Pattern verification failed|error|failed/i.test(out), out };
}

/** A host writing through the NBD export until stopped: qemu-io runs back to back, each doing a few writes. */
function startWriter(uri: string): { stop(): Promise<{ ok: number; failed: number }>; okSince(t: number): number } {
  const results: { t: number; ok: boolean }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await nbdIo(uri, ['write -P 0x77 200M 1M', 'write -P 0x77 201M 1M', 'read -P 0x77 200M 2M']);
      results.push({ t: Date.now(), ok: r.ok });
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ok: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok).length };
    },
    okSince: (t) => results.filter((r) => r.ok && r.t > t).length,
  };
}

test('open volume being written: flatten job (progress, cancel), snapshot, resize, rollback through QMP', async (t) => {
  const dir = await tempDir('qsd');
  const fx = await openQcow2(dir);
  // 32 MiB/s: a 128 MiB flatten takes a few seconds, long enough to see progress and to cancel it
  const { engine, report } = await StorageEngine.attach({
    runDir: join(dir, 'run'),
    stateFile: join(dir, 'state', 'storage-daemon.json'),
    streamSpeed: 32 * MiB,
    pollMs: 100,
  });
  assert.match(report.join('\n'), /not running; started when a volume is first opened/);
  fx.backend.useEngine(engine);
  t.after(async () => {
    await engine.shutdown();
    await fx.cleanup();
  });
  const { service, jobs } = fx;

  await service.createVolume({ name: 'gold', size: 256 * MiB });
  await qemuWrite(fx.file('gold'), '0x11', '0', '128M');
  await service.createSnapshot('gold', 'base');
  await service.protectSnapshot('gold', 'base');
  await succeeded(await service.clone({ volume: 'gold', snapshot: 'base', target: 'vol' }));

  const { nbdUri } = await service.openVolume('vol');
  assert.equal(await service.isAttached('vol'), true);
  // the opening complaint: an offline tool cannot take the image while the daemon holds it...
  const locked = await execa('qemu-img', ['snapshot', '-c', 'x', fx.file('vol')], { reject: false });
  assert.match(String(locked.stderr), /Failed to get "write" lock/);
  // ...so everything below goes through QMP while a host writes
  const writer = startWriter(nbdUri);
  await waitFor('first write through the NBD export', () => writer.okSince(0) > 0, 60_000);

  // flatten as a block-stream job: progress shows in the job, cancel stops it and leaves the clone intact
  const progress: number[] = [];
  const j1 = await service.flatten('vol');
  j1.on('changed', () => progress.push(j1.progress));
  await waitFor('flatten progress', () => j1.progress > 0 || j1.finished, 60_000);
  assert.equal(j1.state, 'running', `flatten ended before it could be cancelled: ${j1.state} ${j1.error}`);
  jobs.cancel(j1.id);
  await finished(j1);
  assert.equal(j1.state, 'cancelled', j1.error);
  assert.equal(j1.errorCode, 'Cancelled');
  assert.notEqual((await service.getVolume('vol')).parent, null, 'a cancelled flatten keeps the parent');
  assert.ok((await nbdIo(nbdUri, ['read -P 0x11 0 8M'])).ok, 'data intact after the cancelled flatten');

  progress.length = 0;
  const j2 = await service.flatten('vol');
  j2.on('changed', () => progress.push(j2.progress));
  assert.equal(await succeeded(j2), 'flattened');
  assert.ok(
    progress.some((p) => p > 0 && p < 100),
    `intermediate progress reported: ${progress.join(',')}`,
  );
  assert.equal((await service.getVolume('vol')).parent, null);
  const info = JSON.parse((await execa('qemu-img', ['info', '-U', '--output=json', fx.file('vol')])).stdout) as Record<
    string,
    unknown
  >;
  assert.equal(info['backing-filename'], undefined, 'the image no longer has a backing file');
  assert.ok((await nbdIo(nbdUri, ['read -P 0x11 0 128M'])).ok, 'parent data copied in');

  // snapshot while writing (the export is not interrupted)
  assert.ok((await nbdIo(nbdUri, ['write -P 0x22 0 8M'])).ok);
  let mark = Date.now();
  const s1 = await service.createSnapshot('vol', 's1');
  assert.equal(s1.name, 's1');
  assert.ok((await nbdIo(nbdUri, ['write -P 0x33 0 8M'])).ok);
  await waitFor('writes after the snapshot', () => writer.okSince(mark) > 0, 60_000);

  // grow while writing: the NBD export is cycled (QEMU's NBD server forbids a resize under it), clients reconnect
  mark = Date.now();
  assert.equal(await succeeded(await service.resize('vol', 512 * MiB)), '512 MiB');
  assert.equal((await service.getVolume('vol')).size, 512 * MiB);
  assert.match((await nbdIo(nbdUri, ['length'])).out, /512 MiB/);
  await waitFor('writes after the resize', () => writer.okSince(mark) > 0, 60_000);
  await assert.rejects(service.resize('vol', 256 * MiB, true), /attached: it cannot be shrunk/);

  // rollback while writing: backup taken, the snapshot's data is back, the exports return
  mark = Date.now();
  const backup = await succeeded(await service.rollback('vol', 's1'));
  assert.ok(
    (await service.listSnapshots('vol')).some((s) => s.name === backup),
    `backup ${backup} listed`,
  );
  assert.ok((await nbdIo(nbdUri, ['read -P 0x22 0 8M'])).ok, 'the rolled back volume reads the snapshot');
  await waitFor('writes after the rollback', () => writer.okSince(mark) > 0, 60_000);
  const w = await writer.stop();
  assert.ok(w.ok > 3, `writer: ${w.ok} ok, ${w.failed} failed`);

  // the export nvmet serves: the same volume as a FUSE file under a loop device (512-byte logical blocks: the
  // FUSE file itself says st_blksize 1, which nvmet turned into 1-byte LBAs no host accepts); it follows a
  // resize without a remount
  const { devicePath } = await service.exportVolume('vol');
  assert.equal((await nbdIo(nbdUri, ['length'])).ok, false, 'NBD and FUSE exports are exclusive');
  assert.ok((await stat(devicePath)).isBlockDevice(), `${devicePath} is a block device`);
  const blockdev = async (opt: string): Promise<number> =>
    Number((await execa('blockdev', [opt, devicePath], { timeout: 30_000 })).stdout.trim());
  assert.equal(await blockdev('--getss'), 512, 'logical block size nvmet will state (LBADS 9)');
  const fuseFile = (await execa('losetup', ['-n', '-O', 'BACK-FILE', devicePath])).stdout.trim();
  assert.equal(fuseFile, join(dir, 'run', 'fuse', fx.backend.idOf('vol')), 'the loop device is over the FUSE file');
  assert.deepEqual((await service.exportVolume('vol')).devicePath, devicePath, 'exporting again: the same device');
  assert.ok(await qemuReads(devicePath, '0x22', '0', '8M', 'raw'), 'the export reads the volume');
  const fileWriter = execa('qemu-io', ['-f', 'raw', '-t', 'none', '-c', 'write -P 0x55 128M 32M', devicePath]);
  await service.createSnapshot('vol', 's2');
  assert.equal(await succeeded(await service.resize('vol', 768 * MiB)), '768 MiB');
  assert.equal(await blockdev('--getsize64'), 768 * MiB, 'the export reports the new size');
  assert.equal((await fileWriter).exitCode, 0);
  assert.ok(await qemuReads(devicePath, '0x55', '128M', '32M', 'raw'));

  // deleting an open volume is refused; unexport closes it and offline tools work again
  await assert.rejects(service.deleteVolume('vol', true), /attached/);
  assert.deepEqual((await engine.inventory()).exports, [`stas-fuse-${fx.backend.idOf('vol')}`]);
  await service.unexportVolume('vol');
  assert.deepEqual(await engine.inventory(), { nodes: [], exports: [] });
  assert.equal((await execa('losetup', ['-n', '-j', fuseFile])).stdout.trim(), '', 'the loop device is detached');
  assert.equal(await service.isAttached('vol'), false);
  await service.createSnapshot('vol', 'offline');
  assert.deepEqual(await fx.backend.orphans(), []);
});

test('stacd SIGKILLed and restarted: the storage daemon and its exports stay, stacd re-attaches, no orphan', async (t) => {
  const etc = makeTestEtc();
  const bus = await startPrivateBus();
  // the layout stacd uses under STATE_DIRECTORY / RUNTIME_DIRECTORY
  const fx = await openQcow2(etc.dir);
  const engineOpts = {
    runDir: join(etc.dir, 'run', 'storage-daemon'),
    stateFile: join(etc.dir, 'state', 'storage-daemon.json'),
  };
  let engine = (await StorageEngine.attach(engineOpts)).engine;
  t.after(async () => {
    await engine.shutdown().catch(() => undefined);
    await bus.stop();
    await fx.cleanup();
    etc.cleanup();
  });
  // stacd's default qcow2 root is <dirname(STATE_DIRECTORY)>/volumes: point the fixture's pool there
  etc.write('stacd.conf', `[Global]\n[Volumes]\nroot=${join(etc.dir, 'data')}\n`);
  fx.backend.useEngine(engine);
  await fx.service.createVolume({ name: 'live', size: 64 * MiB });
  const { nbdUri } = await fx.service.openVolume('live');
  assert.ok((await nbdIo(nbdUri, ['write -P 0x44 0 4M'])).ok);
  const id = fx.backend.idOf('live');
  const expected = { nodes: [`stas-${id}`, `stas-${id}-file`], exports: [`stas-nbd-${id}`] };
  assert.deepEqual(await engine.inventory(), expected);
  engine.detach();

  const env = { ...etc.env, STATE_DIRECTORY: join(etc.dir, 'state') };
  const stacd = await startDaemon('stacd', { busAddress: bus.address, confFile: etc.stacdConf, env });
  await stacd.waitForLog('attached to qemu-storage-daemon', 60_000);
  assert.ok((await nbdIo(nbdUri, ['read -P 0x44 0 4M', 'write -P 0x45 4M 4M'])).ok, 'export served while stacd runs');
  stacd.signal('SIGKILL');
  await waitFor('stacd gone', () => stacd.proc.exitCode !== null || stacd.proc.signalCode !== null, 60_000);
  assert.ok(
    (await nbdIo(nbdUri, ['read -P 0x44 0 4M', 'write -P 0x46 8M 4M'])).ok,
    'export served while stacd is dead',
  );

  const again = await startDaemon('stacd', { busAddress: bus.address, confFile: etc.stacdConf, env });
  await again.waitForLog('attached to qemu-storage-daemon', 60_000);
  assert.doesNotMatch(again.output(), /removed orphan|re-opened|re-exported/, 'nothing had to be rebuilt');
  assert.ok((await nbdIo(nbdUri, ['read -P 0x46 8M 4M'])).ok);
  // a scheduled snapshot of the exported volume succeeds (it used to fail with "Failed to get write lock")
  const ctl = (args: string[]) => runCli('stacctl', args, { busAddress: bus.address, env, timeoutMs: 120_000 });
  let r = await ctl(['schedule', 'add', 'often', 'volumes=live', 'interval=1h', 'keep-hourly=2']);
  assert.equal(r.code, 0, r.stderr);
  r = await ctl(['schedule', 'run-now', 'often', '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const snaps = JSON.parse((await ctl(['snapshot', 'ls', 'live', '--json'])).stdout) as { Name: string }[];
  assert.ok(
    snaps.some((x) => x.Name.startsWith('auto-often-')),
    `scheduled snapshot listed: ${JSON.stringify(snaps)}`,
  );
  assert.ok((await nbdIo(nbdUri, ['read -P 0x46 8M 4M'])).ok, 'the export served on through the snapshot');
  assert.equal(await again.stop(), 0);

  const back = await StorageEngine.attach(engineOpts);
  engine = back.engine;
  assert.deepEqual(await engine.inventory(), expected, 'exactly the nodes and exports of the one open volume');

  // a crash between a QMP change and its journal write: the journal no longer wants the volume
  engine.detach();
  const state = JSON.parse(await readFile(engineOpts.stateFile, 'utf8')) as { volumes: Record<string, unknown> };
  delete state.volumes[id];
  await writeFile(engineOpts.stateFile, JSON.stringify(state));
  const fixed = await StorageEngine.attach(engineOpts);
  engine = fixed.engine;
  assert.ok(fixed.report.includes(`removed orphan node stas-${id}`), fixed.report.join('\n'));
  assert.deepEqual(await engine.inventory(), { nodes: [], exports: [] });
});
