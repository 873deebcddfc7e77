// The intent journal on real files: intent durable before side effects, phases and facts recorded,
// completion removes the entry, pending() lists interrupted operations oldest first, temp files dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../daemons/jobs/journal.js';

test('journal: begin, step, complete, pending', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stas-journal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const j = new Journal(join(dir, 'journal'));
  await j.open();
  const a = await j.begin({ pool: 'p', op: 'rollback', volume: 'v', args: { snapshot: 's1' } });
  const onDisk = JSON.parse(await readFile(j.pathOf(a.entry.id), 'utf8')) as {
    phase: string;
    args: { snapshot: string };
  };
  assert.equal(onDisk.phase, 'intent');
  assert.equal(onDisk.args.snapshot, 's1');
  await a.step('backup', { backup: 'auto-1' });
  await new Promise((r) => setTimeout(r, 5));
  const b = await j.begin({ pool: 'p', op: 'flatten', volume: 'c' });
  const c = await j.begin({ pool: 'p', op: 'create', volume: 'x' });
  await c.complete();
  await writeFile(join(dir, 'journal', '.half-written.json.123.tmp'), '{"id":');
  await writeFile(join(dir, 'journal', 'garbage.json'), 'not json');

  // a new process: reads what is left
  const again = new Journal(join(dir, 'journal'));
  await again.open();
  const pending = await again.pending();
  assert.deepEqual(
    pending.map((p) => [p.entry.op, p.entry.volume, p.entry.phase]),
    [
      ['rollback', 'v', 'backup'],
      ['flatten', 'c', 'intent'],
    ],
  );
  assert.equal(pending[0].entry.data.backup, 'auto-1');
  assert.ok(!(await readdir(join(dir, 'journal'))).some((f) => f.endsWith('.tmp')), 'temp files removed');
  for (const p of pending) await p.complete();
  assert.deepEqual(
    (await readdir(join(dir, 'journal'))).sort(),
    ['garbage.json'],
    'unreadable entries are left for a person to look at',
  );
  assert.equal(b.entry.op, 'flatten');
});
