// The service process is SIGKILLed in the middle of a flatten, a rollback and a forced delete; a restarted
// service (recovery from the journal) finishes or undoes each, the data checks pass, nothing is orphaned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { openQcow2, qemuWrite, qemuReads, snapshotReads, succeeded, tempDir } from './helpers.js';
import { runCrashChild } from './crash-helpers.js';
import { GiB } from '../../daemons/volumes/size.js';

async function checkClean(file: string): Promise<void> {
  const r = await execa('qemu-img', ['check', '--output=json', '-f', 'qcow2', file], { reject: false });
  assert.equal(r.exitCode, 0, `qemu-img check ${file}: ${r.stdout} ${r.stderr}`);
}

async function journalFiles(root: string): Promise<string[]> {
  return (await readdir(join(root, 'state', 'journal'))).filter((f) => !f.startsWith('.'));
}

test('crash: SIGKILL in the middle of a flatten; restart finishes it', async (t) => {
  const root = await tempDir('crash-flatten');
  const fx = await openQcow2(root);
  t.after(() => fx.cleanup());
  await fx.service.createVolume({ name: 'p', size: 4 * GiB });
  // enough data that the rebase runs for a while (progress is reported all along)
  await qemuWrite(fx.file('p'), '0xab', '0', '1024M');
  await fx.service.createSnapshot('p', 's');
  await fx.service.protectSnapshot('p', 's');
  await succeeded(await fx.service.clone({ volume: 'p', snapshot: 's', target: 'c' }));
  await qemuWrite(fx.file('c'), '0xef', '0', '4M');

  const r = await runCrashChild({ kind: 'qcow2', root, op: 'flatten', volume: 'c', killAtProgress: 5 });
  assert.ok(r.killed && !r.completed, `child killed mid-flatten (progress ${r.maxProgress}):\n${r.output}`);
  assert.ok(r.maxProgress < 100);
  assert.equal((await journalFiles(root)).length, 1, 'the interrupted flatten is in the journal');

  const again = await openQcow2(root); // recovery runs in open()
  assert.equal((await again.service.getVolume('c')).parent, null, 'flatten finished by recovery');
  assert.deepEqual(await journalFiles(root), []);
  const fc = again.file('c');
  await checkClean(fc);
  assert.ok(await qemuReads(fc, '0xef', '0', '4M'));
  assert.ok(await qemuReads(fc, '0xab', '4M', '1020M'));
  // survives the parent's deletion
  await again.service.unprotectSnapshot('p', 's');
  await succeeded(await again.service.deleteVolume('p', true));
  assert.ok(await qemuReads(fc, '0xab', '4M', '1020M'));
  assert.deepEqual(await again.backend.orphans(), []);
});

test('crash: SIGKILL in the middle of a rollback (after the backup, before the revert); restart finishes it', async (t) => {
  const root = await tempDir('crash-rollback');
  const fx = await openQcow2(root);
  t.after(() => fx.cleanup());
  await fx.service.createVolume({ name: 'v', size: 2 * GiB });
  await qemuWrite(fx.file('v'), '0xab', '0', '256M');
  await fx.service.createSnapshot('v', 's1');
  await qemuWrite(fx.file('v'), '0xcd', '0', '128M');

  const r = await runCrashChild({
    kind: 'qcow2',
    root,
    op: 'rollback',
    volume: 'v',
    arg: 's1',
    crashAt: 'rollback:backup-taken',
  });
  assert.ok(r.killed && !r.completed, r.output);
  assert.ok(await qemuReads(fx.file('v'), '0xcd', '0', '128M'), 'not yet reverted when killed');

  const again = await openQcow2(root);
  const f = again.file('v');
  await checkClean(f);
  assert.ok(await qemuReads(f, '0xab', '0', '256M'), 'rollback finished: snapshot bytes restored');
  const snaps = (await again.service.listSnapshots('v')).map((s) => s.name);
  const backup = snaps.find((n) => n.startsWith('auto-before-rollback-'));
  assert.ok(backup, `backup snapshot kept: ${snaps.join(',')}`);
  assert.ok(await snapshotReads(f, backup, '0xcd', '0', '128M'), 'backup holds the pre-rollback bytes');
  assert.equal(snaps.length, 2);
  assert.deepEqual(await journalFiles(root), []);
  assert.deepEqual(await again.backend.orphans(), []);
});

test('crash: SIGKILL before the rollback backup exists; restart undoes it (volume unchanged)', async (t) => {
  const root = await tempDir('crash-rollback0');
  const fx = await openQcow2(root);
  t.after(() => fx.cleanup());
  await fx.service.createVolume({ name: 'v', size: GiB });
  await qemuWrite(fx.file('v'), '0xab', '0', '64M');
  await fx.service.createSnapshot('v', 's1');
  await qemuWrite(fx.file('v'), '0xcd', '0', '64M');
  const r = await runCrashChild({
    kind: 'qcow2',
    root,
    op: 'rollback',
    volume: 'v',
    arg: 's1',
    crashAt: 'rollback:backup',
  });
  assert.ok(r.killed && !r.completed, r.output);
  const again = await openQcow2(root);
  assert.ok(await qemuReads(again.file('v'), '0xcd', '0', '64M'), 'volume unchanged');
  assert.deepEqual(
    (await again.service.listSnapshots('v')).map((s) => s.name),
    ['s1'],
  );
  assert.deepEqual(await journalFiles(root), []);
});

test('crash: SIGKILL in the middle of a forced delete; restart finishes it, no orphan left', async (t) => {
  const root = await tempDir('crash-delete');
  const fx = await openQcow2(root);
  t.after(() => fx.cleanup());
  await fx.service.createVolume({ name: 'd', size: 2 * GiB });
  await qemuWrite(fx.file('d'), '0xab', '0', '256M');
  for (const s of ['a', 'b', 'c']) await fx.service.createSnapshot('d', s);
  await fx.service.protectSnapshot('d', 'a');
  await fx.service.protectSnapshot('d', 'b');
  await fx.service.createVolume({ name: 'keep', size: GiB });
  await qemuWrite(fx.file('keep'), '0x42', '0', '1M');

  const r = await runCrashChild({ kind: 'qcow2', root, op: 'delete', volume: 'd', crashAt: 'delete:remove-image' });
  assert.ok(r.killed && !r.completed, r.output);
  const again = await openQcow2(root);
  assert.deepEqual(
    (await again.service.listVolumes()).map((v) => v.name),
    ['keep'],
  );
  assert.deepEqual(await again.backend.orphans(), []);
  assert.deepEqual(await readdir(join(root, 'data', 'bases')), []);
  assert.equal((await readdir(join(root, 'data', 'volumes'))).length, 1);
  assert.ok(await qemuReads(again.file('keep'), '0x42', '0', '1M'), 'other volumes untouched');
  assert.deepEqual(await journalFiles(root), []);
});
