import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  planRetention,
  bucketOf,
  pruneOldestFirstCandidates,
  type RetentionPolicy,
} from '../../daemons/schedules/retention.js';
import type { SnapshotRef } from '../../daemons/schedules/snapshot-store.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = Date.parse('2024-06-15T12:00:00Z');
const snap = (name: string, createdAt: number, meta: SnapshotRef['meta'] = { createdBy: 's' }): SnapshotRef => ({
  name,
  createdAt,
  meta,
});
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ schedule: 's', timeZone: 'UTC', keep: {}, ...p });

test('explain: every snapshot is kept or pruned with the rule(s) that decided it', () => {
  // one snapshot every 6 hours over 4 days
  const snaps = Array.from({ length: 16 }, (_, i) => snap(`a${i}`, now - i * 6 * HOUR));
  const d = planRetention(snaps, policy({ keep: { hourly: 2, daily: 3 } }), now);
  assert.equal(d.length, 16);
  const by = new Map(d.map((x) => [x.snapshot.name, x]));
  // a0 (12:00 today) newest hour and newest of today
  assert.deepEqual(
    by.get('a0')!.rules.map((r) => r.split(':')[0]),
    ['keep-hourly', 'keep-daily'],
  );
  assert.match(by.get('a0')!.rules[1]!, /keep-daily: newest in 2024-06-15 \(1 of 3\)/);
  // a1 (06:00 today) second hour bucket
  assert.deepEqual(by.get('a1')!.rules, ['keep-hourly: newest in 2024-06-15 06h (2 of 2)']);
  // a2 (00:00 today): same day as a0, not among 2 newest hours → pruned
  assert.equal(by.get('a2')!.keep, false);
  assert.match(by.get('a2')!.rules[0]!, /^no-rule-keeps-it/);
  // a3 (18:00 yesterday) newest of 2024-06-14; a7 newest of 2024-06-13; a11 would be the 4th day
  assert.equal(by.get('a3')!.keep, true);
  assert.match(by.get('a3')!.rules[0]!, /keep-daily: newest in 2024-06-14 \(2 of 3\)/);
  assert.equal(by.get('a7')!.keep, true);
  assert.equal(by.get('a11')!.keep, false);
  assert.deepEqual(
    d.filter((x) => x.keep).map((x) => x.snapshot.name),
    ['a0', 'a1', 'a3', 'a7'],
  );
  for (const x of d) assert.ok(x.rules.length > 0, `${x.snapshot.name} has a rule`);
});

test('holds and foreign snapshots are never pruned; keep-at-least keeps the newest; max-age prunes the old', () => {
  const snaps = [
    snap('new', now - HOUR),
    snap('mid', now - 10 * DAY),
    snap('old', now - 40 * DAY),
    snap('held', now - 100 * DAY, { createdBy: 's', hold: 'legal case 42' }),
    snap('manual', now - 200 * DAY, {}),
    snap('other', now - 200 * DAY, { createdBy: 'weekly' }),
  ];
  const d = planRetention(snaps, policy({ maxAgeMs: 30 * DAY }), now);
  const by = new Map(d.map((x) => [x.snapshot.name, x]));
  assert.deepEqual(
    d
      .filter((x) => x.keep)
      .map((x) => x.snapshot.name)
      .sort(),
    ['held', 'manual', 'mid', 'new', 'other'],
  );
  assert.equal(by.get('held')!.rules[0], 'hold: legal case 42');
  assert.equal(by.get('manual')!.rules[0], 'not-created-by-schedule: manual snapshot');
  assert.equal(by.get('other')!.rules[0], 'not-created-by-schedule: made by schedule "weekly"');
  assert.match(by.get('mid')!.rules[0]!, /^max-age: 10d old, within 30d/);
  assert.match(by.get('old')!.rules[0]!, /^max-age: 40d old, older than 30d/);

  const d2 = planRetention(snaps, policy({ maxAgeMs: DAY, keepAtLeast: 2 }), now);
  assert.deepEqual(
    d2.filter((x) => x.keep && x.snapshot.meta.createdBy === 's' && !x.snapshot.meta.hold).map((x) => x.snapshot.name),
    ['new', 'mid'],
  );
  assert.match(d2.find((x) => x.snapshot.name === 'mid')!.rules[0]!, /^keep-at-least: 2 of 2 newest/);
});

test('a schedule without retention settings prunes nothing', () => {
  const d = planRetention([snap('x', now - 900 * DAY)], policy({}), now);
  assert.equal(d[0]!.keep, true);
  assert.match(d[0]!.rules[0]!, /^no-retention/);
  // keep-daily=0 alone is "configured" and keeps nothing
  assert.equal(
    planRetention([snap('x', now - DAY)], policy({ keep: { daily: 0 }, keepAtLeast: 0 }), now)[0]!.keep,
    false,
  );
});

test('buckets are drawn in the schedule time zone', () => {
  // 23:30 UTC on 14 June is 01:30 on 15 June in Berlin
  const t = Date.parse('2024-06-14T23:30:00Z');
  assert.equal(bucketOf(t, 'daily', 'UTC'), '2024-06-14');
  assert.equal(bucketOf(t, 'daily', 'Europe/Berlin'), '2024-06-15');
  assert.equal(bucketOf(Date.parse('2024-06-16T12:00:00Z'), 'weekly', 'UTC'), 'week of 2024-06-10');
  assert.equal(bucketOf(Date.parse('2024-06-17T00:00:00Z'), 'weekly', 'UTC'), 'week of 2024-06-17');
  assert.equal(bucketOf(t, 'monthly', 'UTC'), '2024-06');
  assert.equal(bucketOf(t, 'hourly', 'Europe/Berlin'), '2024-06-15 01h');
  const two = [snap('utc-14th', t), snap('utc-14th-early', Date.parse('2024-06-14T08:00:00Z'))];
  assert.equal(planRetention(two, policy({ keep: { daily: 1 } }), now).filter((x) => x.keep).length, 1);
  assert.equal(
    planRetention(two, policy({ keep: { daily: 1 }, timeZone: 'Europe/Berlin' }), now).filter((x) => x.keep).length,
    1,
  );
  assert.equal(
    planRetention(two, policy({ keep: { daily: 2 }, timeZone: 'Europe/Berlin' }), now).filter((x) => x.keep).length,
    2,
  );
});

test('free-space pruning order: oldest own first, never held, never within keep-at-least', () => {
  const snaps = [
    snap('n1', now - HOUR),
    snap('n2', now - 2 * HOUR),
    snap('n3', now - 3 * HOUR, { createdBy: 's', hold: 'x' }),
    snap('n4', now - 4 * HOUR),
    snap('m', now - 5 * HOUR, {}),
  ];
  assert.deepEqual(
    pruneOldestFirstCandidates(snaps, policy({ keepAtLeast: 1 })).map((s) => s.name),
    ['n4', 'n2'],
  );
});
