// The last-known-config cache file: round trip, secrets never written, damaged files reported (never thrown),
// atomic replacement (no temporary file left, concurrent saves serialised).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TID } from '../../daemons/common/tid.js';
import { LastKnownConfig, finderStateDir, CACHE_FILE_NAME } from '../../daemons/finder/cache.js';

const ctx = { ignoreIface: false, hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:host' };
const page = {
  trtype: 'tcp',
  adrfam: 'ipv4',
  traddr: '10.0.0.1',
  trsvcid: '4420',
  subnqn: 'nqn.a',
  subtype: 'nvme',
  treq: 'not specified',
  portid: '1',
  cntlid: '65535',
  asqsz: '32',
  eflags: '0',
};

test('round trip keeps identity, bag, origin and pages; secrets are not written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stas-cache-'));
  try {
    const c = new LastKnownConfig(dir);
    const tid = TID.fromCid(
      [
        ['transport', 'tcp'],
        ['traddr', '10.0.0.9'],
        ['trsvcid', '8009'],
        ['subsysnqn', 'nqn.2014-08.org.nvmexpress.discovery'],
        ['kato', 17],
        ['dhchap-secret', 'DHHC-1:00:secret'],
      ],
      ctx,
    );
    await Promise.all([c.save([]), c.save([{ tid, origin: 'referral', logPages: [page] }])]);
    const text = readFileSync(join(dir, CACHE_FILE_NAME), 'utf8');
    assert.ok(!text.includes('secret'));
    assert.deepEqual(readdirSync(dir), [CACHE_FILE_NAME], 'no temporary file left');
    const { dcs, problems } = c.load(ctx);
    assert.deepEqual(problems, []);
    assert.equal(dcs.length, 1);
    assert.ok(dcs[0]!.tid.equals(tid));
    assert.equal(dcs[0]!.tid.get('kato'), 17);
    assert.equal(dcs[0]!.tid.get('dhchap-secret'), undefined);
    assert.equal(dcs[0]!.origin, 'referral');
    assert.deepEqual(dcs[0]!.logPages, [page]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('missing, empty, damaged and foreign files are reported, never thrown', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stas-cache-'));
  try {
    const c = new LastKnownConfig(dir);
    assert.deepEqual(c.load(ctx), { dcs: [], problems: [] });
    for (const [text, expect] of [
      ['', 0],
      ['{not json', 1],
      ['{"format": "other"}', 1],
      [
        JSON.stringify({
          format: 'stas-stafd-last-known-config',
          version: 1,
          controllers: [
            { tid: 'x', origin: 'configured', 'log-pages': [] },
            {
              tid: [
                ['transport', 'tcp'],
                ['traddr', '10.0.0.1'],
              ],
              origin: 'discovered',
              'log-pages': [page],
            },
          ],
        }),
        1,
      ],
    ] as const) {
      writeFileSync(join(dir, CACHE_FILE_NAME), text);
      const r = c.load(ctx);
      assert.equal(r.problems.length, expect, `${text}: ${r.problems.join('; ')}`);
    }
    assert.equal(c.load(ctx).dcs.length, 1, 'the good entry of a partly damaged file is kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('state directory: STATE_DIRECTORY, else RUNTIME_DIRECTORY, else /var/lib/stas/stafd', () => {
  assert.equal(finderStateDir({ STATE_DIRECTORY: '/a:/b', RUNTIME_DIRECTORY: '/c' }), '/a');
  assert.equal(finderStateDir({ RUNTIME_DIRECTORY: '/c' }), '/c');
  assert.equal(finderStateDir({}), '/var/lib/stas/stafd');
});
