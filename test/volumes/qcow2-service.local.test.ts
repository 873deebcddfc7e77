// Every volume/snapshot operation on real qcow2 files through the semantics layer, with data checked by
// qemu-io patterns, and the limits and guards answering with named errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { openQcow2, qemuWrite, qemuReads, snapshotReads, succeeded, finished } from './helpers.js';
import { GiB, MiB, TiB } from '../../daemons/volumes/size.js';
import { MAX_SNAPSHOTS_PER_VOLUME } from '../../daemons/volumes/service.js';

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('qcow2: create, snapshot, rollback with backup, clone, flatten, resize, rename, delete', async (t) => {
  const fx = await openQcow2();
  t.after(() => fx.cleanup());
  const { service } = fx;

  const v = await service.createVolume({
    name: 'vol1',
    size: 10 * GiB,
    qos: { iops: 2000, iopsBurst: 4000, bps: 100 * MiB },
    priority: 'high',
  });
  assert.equal(v.size, 10 * GiB);
  assert.equal(v.backend, 'qcow2');
  assert.deepEqual(v.meta.qos, { iops: 2000, iopsBurst: 4000, bps: 100 * MiB, bpsBurst: 0 });
  assert.equal(v.meta.priority, 'high');
  assert.equal(v.parent, null);
  const f1 = fx.file('vol1');
  await qemuWrite(f1, '0xab', '0', '64M');
  assert.ok(await qemuReads(f1, '0xab', '0', '64M'));

  // snapshot, then diverge
  const s1 = await service.createSnapshot('vol1', 's1');
  assert.equal(s1.size, 10 * GiB);
  assert.equal(s1.protected, false);
  await qemuWrite(f1, '0xcd', '0', '32M');
  assert.ok(await qemuReads(f1, '0xcd', '0', '32M'));

  // rollback restores s1's bytes; the automatic backup holds the pre-rollback bytes
  const backup = await succeeded(await service.rollback('vol1', 's1'));
  assert.match(backup, /^auto-before-rollback-/);
  assert.ok(await qemuReads(f1, '0xab', '0', '64M'), 'rollback restored the snapshot bytes');
  assert.ok(await snapshotReads(f1, backup, '0xcd', '0', '32M'), 'backup holds the pre-rollback bytes');
  assert.ok(await snapshotReads(f1, backup, '0xab', '32M', '32M'));
  assert.deepEqual((await service.listSnapshots('vol1')).map((s) => s.name).sort(), [backup, 's1'].sort());

  // clone needs protection; protect materialises a base
  await rejectsWith(
    service.clone({ volume: 'vol1', snapshot: 's1', target: 'c1' }),
    'InvalidArgument',
    /not protected/,
  );
  const p = await service.protectSnapshot('vol1', 's1');
  assert.equal(p.protected, true);
  const c1 = await succeeded(await service.clone({ volume: 'vol1', snapshot: 's1', target: 'c1' }));
  assert.equal(c1, 'c1');
  const cinfo = await service.getVolume('c1');
  assert.deepEqual(cinfo.parent, { volume: 'vol1', snapshot: 's1' });
  assert.equal(await service.cloneDepth('c1'), 1);
  const fc = fx.file('c1');
  assert.ok(await qemuReads(fc, '0xab', '0', '64M'), 'clone reads its parent bytes');
  await qemuWrite(fc, '0xef', '0', '4M');
  assert.ok(await qemuReads(fc, '0xef', '0', '4M'));
  assert.ok(await qemuReads(f1, '0xab', '0', '64M'), 'parent unchanged by the clone writes');

  // flattened clone straight away
  await succeeded(await service.clone({ volume: 'vol1', snapshot: 's1', target: 'flat1', flatten: true }));
  assert.equal((await service.getVolume('flat1')).parent, null);
  assert.ok(await qemuReads(fx.file('flat1'), '0xab', '0', '64M'));

  // guards while c1 depends on vol1@s1
  await rejectsWith(service.unprotectSnapshot('vol1', 's1'), 'Busy', /clones \(c1\)/);
  await rejectsWith(service.deleteSnapshot('vol1', 's1'), 'Busy', /protected/);
  await rejectsWith(service.deleteVolume('vol1'), 'Busy', /snapshot/);
  await rejectsWith(service.deleteVolume('vol1', true), 'Busy', /clones/);

  // flatten c1 (with progress), then it survives its parent's deletion
  const fj = await service.flatten('c1');
  const progress: number[] = [];
  fj.on('changed', () => progress.push(fj.progress));
  assert.equal(await succeeded(fj), 'flattened');
  assert.equal((await service.getVolume('c1')).parent, null);
  assert.ok(progress.length > 0 && progress.at(-1) === 100, `progress reported: ${progress.join(',')}`);
  await service.unprotectSnapshot('vol1', 's1');
  await succeeded(await service.deleteVolume('vol1', true));
  await rejectsWith(service.getVolume('vol1'), 'NotFound');
  assert.ok(await qemuReads(fc, '0xef', '0', '4M'), 'flattened clone keeps its own bytes');
  assert.ok(await qemuReads(fc, '0xab', '4M', '60M'), 'flattened clone keeps the former parent bytes');

  // resize: grow; shrink only with the flag
  await succeeded(await service.resize('c1', 20 * GiB));
  assert.equal((await service.getVolume('c1')).size, 20 * GiB);
  await rejectsWith(service.resize('c1', 5 * GiB), 'InvalidArgument', /allow-shrink/);
  await succeeded(await service.resize('c1', 5 * GiB, true));
  assert.equal((await service.getVolume('c1')).size, 5 * GiB);
  assert.ok(await qemuReads(fc, '0xab', '4M', '60M'));

  // rename keeps the id and the data
  const before = await service.getVolume('c1');
  const renamed = await service.rename('c1', 'c1-renamed');
  assert.equal(renamed.id, before.id);
  await rejectsWith(service.getVolume('c1'), 'NotFound');
  await rejectsWith(service.rename('c1-renamed', 'flat1'), 'AlreadyExists');

  // usage: provisioned vs allocated, per snapshot
  await service.createSnapshot('c1-renamed', 'u1');
  const u = await service.usage('c1-renamed');
  assert.equal(u.provisioned, 5 * GiB);
  assert.ok(u.allocated >= 64 * MiB && u.allocated < GiB, `allocated ${u.allocated}`);
  assert.equal(u.entries.length, 2);
  assert.equal(u.entries[1].snapshot, 'u1');
  assert.ok(u.entries[1].allocated >= 64 * MiB);

  // QoS change
  const q = await service.setQos('c1-renamed', { bps: 10 * MiB, bpsBurst: 20 * MiB }, 'normal');
  assert.deepEqual(q.meta.qos, { iops: 0, iopsBurst: 0, bps: 10 * MiB, bpsBurst: 20 * MiB });

  // delete: refused with snapshots unless forced; forced removes everything
  await rejectsWith(service.deleteVolume('c1-renamed'), 'Busy');
  await service.deleteSnapshot('c1-renamed', 'u1');
  await succeeded(await service.deleteVolume('c1-renamed'));
  await succeeded(await service.deleteVolume('flat1'));
  assert.deepEqual(await service.listVolumes(), []);
  assert.deepEqual(await fx.backend.orphans(), []);
  assert.deepEqual(await readdir(join(fx.root, 'state', 'journal')), [], 'journal empty after completed operations');
});

test('qcow2: bad input is refused with named errors and changes nothing', async (t) => {
  const fx = await openQcow2();
  t.after(() => fx.cleanup());
  const { service } = fx;
  for (const name of ['../x', '', 'x'.repeat(300), 'a/b', '.hidden', 'a b', 'a..b'])
    await rejectsWith(service.createVolume({ name, size: GiB }), 'InvalidArgument');
  for (const size of [0, -512, 512 * TiB + 512, 1000, 1.5, Number.NaN])
    await rejectsWith(service.createVolume({ name: 'v', size }), 'InvalidArgument');
  await service.createVolume({ name: 'max', size: 512 * TiB }); // the limit itself is fine (thin)
  await rejectsWith(service.createVolume({ name: 'q', size: GiB, qos: { iops: -1 } }), 'InvalidArgument');
  await rejectsWith(
    service.createVolume({ name: 'q', size: GiB, qos: { iops: 100, iopsBurst: 50 } }),
    'InvalidArgument',
  );
  await rejectsWith(service.createVolume({ name: 'q', size: GiB, priority: 'urgent' as 'high' }), 'InvalidArgument');
  await rejectsWith(service.createVolume({ name: 'max', size: GiB }), 'AlreadyExists');
  await rejectsWith(service.createVolume({ name: 'p', size: GiB, pool: 'nope' }), 'NotFound');
  await rejectsWith(service.getVolume('nope'), 'NotFound');
  await rejectsWith(service.getVolume('../etc'), 'InvalidArgument');
  await rejectsWith(service.createSnapshot('nope', 's'), 'NotFound');
  await rejectsWith(service.createSnapshot('max', '../s'), 'InvalidArgument');
  await rejectsWith(service.rollback('max', 'nope'), 'NotFound');
  await rejectsWith(service.deleteSnapshot('max', 'nope'), 'NotFound');
  await rejectsWith(service.protectSnapshot('max', 'nope'), 'NotFound');
  await rejectsWith(service.clone({ volume: 'max', snapshot: 'nope', target: 't' }), 'NotFound');
  await rejectsWith(service.flatten('nope'), 'NotFound');
  await rejectsWith(service.resize('max', 0), 'InvalidArgument');
  await rejectsWith(service.resize('max', 513 * TiB), 'InvalidArgument');
  await rejectsWith(service.rename('max', 'bad/name'), 'InvalidArgument');
  assert.throws(
    () => fx.jobs.cancel('ffff'),
    (e: Error & { code?: string }) => e.code === 'NotFound',
  );
  const vols = await service.listVolumes();
  assert.deepEqual(
    vols.map((v) => v.name),
    ['max'],
  );
  assert.equal(vols[0].snapshotCount, 0);
  assert.deepEqual(await fx.backend.orphans(), []);
});

test('qcow2: limits: 256 snapshots, clone depth 16', async (t) => {
  const fx = await openQcow2();
  t.after(() => fx.cleanup());
  const { service } = fx;
  await service.createVolume({ name: 'many', size: GiB });
  // most of them straight with qemu-img (one process each, no service round trips): the limit is the subject
  await execa(
    'bash',
    [
      '-c',
      `for i in $(seq 0 ${MAX_SNAPSHOTS_PER_VOLUME - 5}); do qemu-img snapshot -c s$i "$0" || exit 1; done`,
      fx.file('many'),
    ],
    {
      timeout: 300_000,
    },
  );
  for (let i = MAX_SNAPSHOTS_PER_VOLUME - 4; i < MAX_SNAPSHOTS_PER_VOLUME; i++)
    await service.createSnapshot('many', `s${i}`);
  await rejectsWith(service.createSnapshot('many', 'one-more'), 'LimitExceeded', /256/);
  // the rollback's backup snapshot would be the 257th
  await rejectsWith(service.rollback('many', 's0'), 'LimitExceeded');
  assert.equal((await service.listSnapshots('many')).length, 256);

  // chain: v0 <- c1 <- c2 ... each a thin clone of the previous one's protected snapshot
  await service.createVolume({ name: 'c0', size: 64 * MiB });
  await qemuWrite(fx.file('c0'), '0x11', '0', '1M');
  let prev = 'c0';
  for (let d = 1; d <= 16; d++) {
    await service.createSnapshot(prev, 's');
    await service.protectSnapshot(prev, 's');
    await succeeded(await service.clone({ volume: prev, snapshot: 's', target: `c${d}` }));
    prev = `c${d}`;
  }
  assert.equal(await service.cloneDepth('c16'), 16);
  assert.ok(await qemuReads(fx.file('c16'), '0x11', '0', '1M'), 'depth-16 clone reads the root bytes');
  await service.createSnapshot('c16', 's');
  await service.protectSnapshot('c16', 's');
  await rejectsWith(service.clone({ volume: 'c16', snapshot: 's', target: 'c17' }), 'LimitExceeded', /17 levels/);
  // a flattened clone has no chain: allowed
  await succeeded(await service.clone({ volume: 'c16', snapshot: 's', target: 'c17flat', flatten: true }));
  assert.ok(await qemuReads(fx.file('c17flat'), '0x11', '0', '1M'));
  assert.equal(await service.cloneDepth('c17flat'), 0);
});

test('qcow2: flatten refused with snapshots; attached volumes refuse shrink, rollback and delete', async (t) => {
  const fx = await openQcow2();
  t.after(() => fx.cleanup());
  const { service } = fx;
  await service.createVolume({ name: 'p', size: GiB });
  await service.createSnapshot('p', 's');
  await service.protectSnapshot('p', 's');
  await succeeded(await service.clone({ volume: 'p', snapshot: 's', target: 'c' }));
  await service.createSnapshot('c', 'inner');
  const j = await finished(await service.flatten('c'));
  assert.equal(j.state, 'failed');
  assert.equal(j.errorCode, 'NotSupported');
  assert.ok((await service.getVolume('c')).parent, 'still a clone');

  // an "attached" consumer: qemu-io holding the image open read-write
  const holder = spawn('qemu-io', ['-f', 'qcow2', fx.file('p')], { stdio: ['pipe', 'pipe', 'pipe'] });
  holder.stdout.resume();
  holder.stderr.resume();
  t.after(() => holder.kill('SIGKILL'));
  let attached = false;
  for (let i = 0; i < 50 && !attached; i++) {
    attached = await service.isAttached('p');
    if (!attached) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(attached, 'lock probe sees the consumer');
  await rejectsWith(service.resize('p', 512 * MiB, true), 'Busy', /attached/);
  await rejectsWith(service.rollback('p', 's'), 'Busy', /attached/);
  await rejectsWith(
    service.deleteVolume('c', true).then(() => service.deleteVolume('p', true)),
    'Busy',
  );
  holder.stdin.end('quit\n');
  await new Promise((r) => holder.once('exit', r));
  assert.equal(await service.isAttached('p'), false);
  await access(fx.file('p'));
});

test('qcow2: concurrent conflicting operations: Busy, nothing changed; other volumes run in parallel', async (t) => {
  const fx = await openQcow2();
  t.after(() => fx.cleanup());
  const { service } = fx;
  await service.createVolume({ name: 'big', size: 4 * GiB });
  await qemuWrite(fx.file('big'), '0x5a', '0', '512M');
  await service.createSnapshot('big', 's');
  await service.protectSnapshot('big', 's');
  await service.createVolume({ name: 'other', size: GiB });
  const clone = await service.clone({ volume: 'big', snapshot: 's', target: 'bigc', flatten: true });
  // while the clone job holds "big" and "bigc": quick mutations on them are refused
  await rejectsWith(service.createSnapshot('big', 'x'), 'Busy', /busy with job/);
  await rejectsWith(service.createVolume({ name: 'bigc', size: GiB }), 'Busy');
  await rejectsWith(service.rename('big', 'big2'), 'Busy');
  // an unrelated volume is not blocked
  await service.createSnapshot('other', 'x');
  // two creates of one name at once: exactly one wins
  const results = await Promise.allSettled([
    service.createVolume({ name: 'twin', size: GiB }),
    service.createVolume({ name: 'twin', size: GiB }),
  ]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.ok(['Busy', 'AlreadyExists'].includes((loser.reason as { code: string }).code));
  await succeeded(clone);
  assert.ok(await qemuReads(fx.file('bigc'), '0x5a', '0', '512M'));
  assert.deepEqual(
    (await service.listSnapshots('big')).map((s) => s.name),
    ['s'],
  );

  // cancel a running flattened clone: the target never appears, no temp file left
  const c2 = await service.clone({ volume: 'big', snapshot: 's', target: 'bigc2', flatten: true });
  for (let i = 0; i < 200 && c2.state !== 'running'; i++) await new Promise((r) => setTimeout(r, 10));
  fx.jobs.cancel(c2.id);
  const done = await finished(c2);
  assert.equal(done.state, 'cancelled');
  assert.equal(await service.findVolume('bigc2'), null);
  assert.deepEqual(await fx.backend.orphans(), []);
});
