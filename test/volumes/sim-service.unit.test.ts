// The volume semantics (service.ts) on the simulated engine: every rule that lives above the backends — guards,
// clone protection and depth, the backup snapshot a rollback takes, refusal of deletes that would break clones,
// job progress and cancel — checked in-process in milliseconds. The real engines keep their own tests (qcow2, rbd).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../daemons/jobs/journal.js';
import { JobRunner } from '../../daemons/jobs/runner.js';
import { SimBackend } from '../../daemons/volumes/sim-backend.js';
import { VolumeService } from '../../daemons/volumes/service.js';
import { GiB } from '../../daemons/volumes/size.js';

async function simService(): Promise<{ service: VolumeService; jobs: JobRunner }> {
  const dir = mkdtempSync(join(tmpdir(), 'stas-sim-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const jobs = new JobRunner({ maxParallel: 4 });
  const service = new VolumeService([new SimBackend('default')], new Journal(join(dir, 'journal')), jobs);
  assert.deepEqual(await service.open(), [], 'a new in-memory engine has nothing to recover');
  return { service, jobs };
}

test('sim engine: create, snapshot, rollback with its backup snapshot, resize', async () => {
  const { service } = await simService();
  const v = await service.createVolume({ name: 'db', size: GiB });
  assert.deepEqual([v.name, v.pool, v.backend, v.size, v.parent], ['db', 'default', 'sim', GiB, null]);
  await service.createSnapshot('db', 'before');
  assert.equal((await (await service.resize('db', 2 * GiB)).wait()).state, 'succeeded');
  assert.equal((await service.getVolume('db')).size, 2 * GiB);
  const rb = await (await service.rollback('db', 'before')).wait();
  assert.equal(rb.state, 'succeeded', rb.error);
  assert.equal((await service.getVolume('db')).size, GiB, 'the head is back at the snapshot');
  const names = (await service.listSnapshots('db')).map((s) => s.name);
  assert.ok(names.includes(rb.result), `the rollback's backup snapshot ${rb.result} exists: ${names.join(', ')}`);
  await assert.rejects(service.resize('db', GiB / 2), /allow-shrink/, 'shrinking needs the explicit flag');
});

test('sim engine: clones need a protected snapshot, keep their parent until flattened, and block deletes', async () => {
  const { service } = await simService();
  await service.createVolume({ name: 'gold', size: GiB });
  await service.createSnapshot('gold', 'v1');
  await assert.rejects(service.clone({ volume: 'gold', snapshot: 'v1', target: 'c1' }), { code: 'InvalidArgument' });
  await service.protectSnapshot('gold', 'v1');
  const c = await (await service.clone({ volume: 'gold', snapshot: 'v1', target: 'c1' })).wait();
  assert.equal(c.state, 'succeeded', c.error);
  assert.deepEqual((await service.getVolume('c1')).parent, { volume: 'gold', snapshot: 'v1' });
  assert.equal(await service.cloneDepth('c1'), 1);
  await assert.rejects(service.unprotectSnapshot('gold', 'v1'), /clones/);
  await assert.rejects(
    service.deleteVolume('gold', true),
    { code: 'Busy' },
    'even a forced delete keeps clones intact',
  );
  const progress: number[] = [];
  const flat = await service.flatten('c1');
  flat.on('changed', () => progress.push(flat.progress));
  assert.equal((await flat.wait()).state, 'succeeded');
  assert.equal((await service.getVolume('c1')).parent, null);
  assert.ok(progress.includes(100), `progress reported: ${progress.join(',')}`);
  await service.unprotectSnapshot('gold', 'v1');
  assert.equal((await (await service.deleteVolume('gold', true)).wait()).state, 'succeeded');
  await assert.rejects(service.getVolume('gold'), { code: 'NotFound' });
});

test('sim engine: bad input gets named errors and changes nothing', async () => {
  const { service } = await simService();
  await service.createVolume({ name: 'a', size: GiB });
  await assert.rejects(service.createVolume({ name: 'a', size: GiB }), { code: 'AlreadyExists' });
  await assert.rejects(service.createVolume({ name: 'bad/name', size: GiB }), { code: 'InvalidArgument' });
  await assert.rejects(service.createSnapshot('nosuch', 's'), { code: 'NotFound' });
  await assert.rejects(service.rollback('a', 'nosuch'), { code: 'NotFound' });
  assert.deepEqual(
    (await service.listVolumes()).map((v) => v.name),
    ['a'],
  );
});
