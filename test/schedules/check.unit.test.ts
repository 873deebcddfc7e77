import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateFreshness } from '../../daemons/schedules/check.js';

const MIN = 60_000;
const H = 60 * MIN;
const now = Date.parse('2024-06-15T12:00:00Z');
const vols = (...ages: (number | null)[]) =>
  ages.map((a, i) => ({ volume: `vol${i + 1}`, count: a === null ? 0 : 3, newest: a === null ? null : now - a }));

test('OK: one status line with the largest age and perfdata per volume', () => {
  const r = evaluateFreshness({ volumes: vols(10 * MIN, 42 * MIN, 5 * MIN), warnMs: 26 * H, critMs: 50 * H, now });
  assert.equal(r.code, 0);
  assert.equal(
    r.line,
    "SNAPSHOTS OK - 3 volumes, newest snapshot age max 42m | 'vol1_age'=600s;93600;180000;0; 'vol2_age'=2520s;93600;180000;0; 'vol3_age'=300s;93600;180000;0;",
  );
});

test('WARNING and CRITICAL by age; a volume with no snapshot at all is CRITICAL', () => {
  const w = evaluateFreshness({ volumes: vols(10 * MIN, 27 * H), warnMs: 26 * H, critMs: 50 * H, now });
  assert.equal(w.code, 1);
  assert.match(
    w.line,
    /^SNAPSHOTS WARNING - 2 volumes, older than 1d 2h: vol2 1d 3h, newest snapshot age max 1d 3h \| /,
  );
  const c = evaluateFreshness({ volumes: vols(10 * MIN, 27 * H, 51 * H), warnMs: 26 * H, critMs: 50 * H, now });
  assert.equal(c.code, 2);
  assert.match(c.line, /^SNAPSHOTS CRITICAL - 3 volumes, older than 2d 2h: vol3 2d 3h, older than 1d 2h: vol2 1d 3h/);
  const none = evaluateFreshness({ volumes: vols(10 * MIN, null), warnMs: 26 * H, critMs: 50 * H, now });
  assert.equal(none.code, 2);
  assert.match(
    none.line,
    /^SNAPSHOTS CRITICAL - 2 volumes, no snapshot: vol2, newest snapshot age max 10m \| .*'vol2_age'=U;93600;180000;0;$/,
  );
  assert.deepEqual(
    none.volumes.map((v) => v.status),
    ['OK', 'CRITICAL'],
  );
});

test('UNKNOWN: no volumes, unknown volume, warn above crit', () => {
  assert.deepEqual(
    [
      evaluateFreshness({ volumes: [], warnMs: H, critMs: 2 * H, now }),
      evaluateFreshness({ volumes: vols(MIN), unknownVolumes: ['nope'], warnMs: H, critMs: 2 * H, now }),
      evaluateFreshness({ volumes: vols(MIN), warnMs: 3 * H, critMs: 2 * H, now }),
    ].map((r) => [r.code, r.line]),
    [
      [3, 'SNAPSHOTS UNKNOWN - no volumes'],
      [3, 'SNAPSHOTS UNKNOWN - no such volume: nope'],
      [3, 'SNAPSHOTS UNKNOWN - --warn 3h is longer than --crit 2h'],
    ],
  );
});
