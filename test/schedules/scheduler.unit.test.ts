// Simulated-clock tests of the scheduler: a ManualClock and an in-memory store, so a year runs in seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rig, def, HOUR, DAY } from './helpers.js';
import { jitterOffset } from '../../daemons/schedules/naming.js';

test('a year of an hourly schedule with h24 d30 w8 m12 leaves exactly the expected snapshots', async (t) => {
  const start = Date.parse('2023-01-01T00:00:00Z') - 1000;
  const end = Date.parse('2024-01-01T00:00:00Z');
  const r = rig(t, start, [
    def('hourly', {
      volumes: 'vol1',
      calendar: 'hourly',
      'keep-hourly': '24',
      'keep-daily': '30',
      'keep-weekly': '8',
      'keep-monthly': '12',
    }),
  ]);
  r.store.addVolume('vol1');
  r.scheduler.start();
  await r.advanceTo(end + 60_000);
  await r.scheduler.stop();

  // every hour ran once, and made a snapshot
  const runTimes: number[] = [];
  for (let x = Date.parse('2023-01-01T00:00:00Z'); x <= end; x += HOUR) runTimes.push(x);
  assert.equal(r.runs.length, runTimes.length);
  assert.equal(r.store.created, runTimes.length);
  assert.ok(r.runs.every((run) => run.outcome === 'ok'));

  // expected set by brute force: group every run time by period key, newest per key, N newest keys
  const keyFns: [number, (x: number) => string][] = [
    [24, (x) => String(Math.floor(x / HOUR))],
    [30, (x) => String(Math.floor(x / DAY))],
    [8, (x) => String(Math.floor((Math.floor(x / DAY) + 3) / 7))], // 1970-01-01 was a Thursday: +3 → weeks from Monday
    [12, (x) => `${new Date(x).getUTCFullYear()}-${new Date(x).getUTCMonth()}`],
  ];
  const expected = new Set<number>();
  for (const [n, key] of keyFns) {
    const newest = new Map<string, number>();
    for (const x of runTimes) newest.set(key(x), Math.max(newest.get(key(x)) ?? 0, x));
    [...newest.values()]
      .sort((a, b) => b - a)
      .slice(0, n)
      .forEach((x) => expected.add(x));
  }
  const left = r.store.snapshots('vol1');
  assert.deepEqual(
    left.map((s) => s.createdAt).sort((a, b) => a - b),
    [...expected].sort((a, b) => a - b),
  );
  // names carry the UTC timestamp
  assert.ok(left.some((s) => s.name === 'auto-hourly-20240101T000000Z'));
  assert.ok(
    left.some((s) => s.name === 'auto-hourly-20230228T230000Z'),
    'the newest of February is the 12th monthly keeper',
  );
  assert.ok(!left.some((s) => s.name === 'auto-hourly-20230131T230000Z'), 'January 2023 is the 13th month: pruned');
  assert.equal(r.store.deleted, runTimes.length - expected.size);

  // explain: each survivor is kept by named bucket rules
  const [gc] = await r.scheduler.gc({ schedule: 'hourly', volume: 'vol1', dryRun: true });
  assert.equal(gc!.decisions.length, expected.size);
  for (const d of gc!.decisions) {
    assert.equal(d.keep, true);
    assert.ok(
      d.rules.length > 0 && d.rules.every((rule) => /^keep-(hourly|daily|weekly|monthly): newest in /.test(rule)),
      d.rules.join('; '),
    );
  }
  const feb = gc!.decisions.find((d) => d.snapshot.name === 'auto-hourly-20230228T230000Z')!;
  assert.deepEqual(feb.rules, ['keep-monthly: newest in 2023-02 (12 of 12)']);
  const newYear = gc!.decisions.find((d) => d.snapshot.name === 'auto-hourly-20240101T000000Z')!;
  assert.deepEqual(
    newYear.rules.map((x) => x.split(':')[0]),
    ['keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly'],
  );
});

test('GC dry-run prunes nothing; a real GC prunes what the dry run said, and held snapshots survive', async (t) => {
  const start = Date.parse('2024-05-01T00:00:00Z');
  const r = rig(t, start, [def('h', { volumes: 'vol1', interval: '1h', 'keep-hourly': '3' })]);
  r.store.addVolume('vol1');
  r.store.put('vol1', 'auto-h-old', start - 30 * DAY, { createdBy: 'h' });
  r.store.put('vol1', 'auto-h-held', start - 20 * DAY, { createdBy: 'h', hold: 'before upgrade' });
  r.store.put('vol1', 'manual', start - 10 * DAY, {});
  r.store.put('vol1', 'other', start - 10 * DAY, { createdBy: 'weekly' });
  const dry = await r.scheduler.gc({ dryRun: true });
  assert.equal(dry.length, 1);
  assert.deepEqual(
    dry[0]!.decisions.filter((d) => !d.keep).map((d) => d.snapshot.name),
    [],
  ); // keeps 3 newest hourly buckets, there are only 2 own
  assert.equal(r.store.deleted, 0);

  r.scheduler.start();
  await r.advanceTo(start + 7 * DAY);
  const names = r.store.names('vol1');
  assert.ok(names.includes('auto-h-held'), 'held snapshot survives a week of GC');
  assert.ok(names.includes('manual') && names.includes('other'), 'snapshots of others are never pruned');
  assert.ok(!names.includes('auto-h-old'));
  assert.equal(names.filter((n) => n.startsWith('auto-h-2')).length, 3);

  await r.store.setHold('vol1', 'auto-h-held', null);
  const plan = await r.scheduler.gc({ schedule: 'h', dryRun: true });
  assert.deepEqual(
    plan[0]!.decisions.filter((d) => !d.keep).map((d) => d.snapshot.name),
    ['auto-h-held'],
  );
  assert.ok(r.store.names('vol1').includes('auto-h-held'), 'dry run deleted nothing');
  const real = await r.scheduler.gc({ schedule: 'h', dryRun: false });
  assert.deepEqual(real[0]!.deleted, ['auto-h-held']);
  await r.scheduler.stop();
});

for (const tz of ['Europe/Berlin', 'America/New_York']) {
  test(`DST in ${tz}: daily 02:30 and 01:30 run once every day across spring forward and fall back`, async (t) => {
    for (const [from, to] of [
      ['2024-03-01', '2024-04-15'],
      ['2024-10-15', '2024-11-15'],
    ] as const) {
      const r = rig(t, Date.parse(`${from}T12:00:00Z`), [
        def('two30', { volumes: 'v', calendar: '*-*-* 02:30', timezone: tz }),
        def('one30', { volumes: 'v', calendar: '*-*-* 01:30', timezone: tz }),
      ]);
      r.store.addVolume('v');
      r.scheduler.start();
      await r.advanceTo(Date.parse(`${to}T12:00:00Z`));
      await r.scheduler.stop();
      const days = (Date.parse(to) - Date.parse(from)) / DAY;
      for (const s of ['two30', 'one30']) {
        const runs = r.runs.filter((x) => x.schedule === s);
        assert.equal(runs.length, days, `${tz} ${s} ${from}..${to}: one run per day`);
        const localDays = new Set(
          runs.map((x) => new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(x.startedAt)),
        );
        assert.equal(localDays.size, days, 'no day doubled, none dropped');
        for (const x of runs) {
          const local = new Intl.DateTimeFormat('en-GB', {
            timeZone: tz,
            hour: '2-digit',
            minute: '2-digit',
            hourCycle: 'h23',
          }).format(x.startedAt);
          // the only run not at its wall time is the skipped 02:30 on spring-forward day, run at 03:00
          assert.ok(
            local === (s === 'two30' ? '02:30' : '01:30') || (s === 'two30' && local === '03:00'),
            `${s} ran at ${local}`,
          );
        }
      }
      const at300 = r.runs.filter(
        (x) =>
          x.schedule === 'two30' &&
          new Intl.DateTimeFormat('en-GB', {
            timeZone: tz,
            hour: '2-digit',
            minute: '2-digit',
            hourCycle: 'h23',
          }).format(x.startedAt) === '03:00',
      );
      assert.equal(at300.length, from === '2024-03-01' ? 1 : 0);
    }
  });

  test(`DST in ${tz}: an hourly schedule runs every real hour, never twice, never skipped`, async (t) => {
    for (const [from, to] of [
      ['2024-03-09T00:00:00Z', '2024-03-12T00:00:00Z'],
      ['2024-10-25T00:00:00Z', '2024-11-05T00:00:00Z'],
    ] as const) {
      const r = rig(t, Date.parse(from) - 1, [def('h', { volumes: 'v', calendar: 'hourly', timezone: tz })]);
      r.store.addVolume('v');
      r.scheduler.start();
      await r.advanceTo(Date.parse(to) - 1);
      await r.scheduler.stop();
      const times = r.runs.map((x) => x.startedAt);
      assert.equal(times.length, (Date.parse(to) - Date.parse(from)) / HOUR);
      for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, HOUR);
      assert.equal(new Set(r.store.names('v')).size, times.length, 'UTC names never collide across the repeated hour');
    }
  });
}

test('downtime: 3 days down → exactly one catch-up run at start-up, then the timetable resumes', async (t) => {
  const start = Date.parse('2024-02-01T00:30:00Z');
  const hourly = def('h', { volumes: 'v', calendar: 'hourly' });
  const r = rig(t, start, [hourly]);
  r.store.addVolume('v');
  r.scheduler.start();
  await r.advanceTo(start + 5 * HOUR); // runs at 01:00 … 05:00
  await r.scheduler.stop();
  assert.equal(r.runs.length, 5);

  await r.clock.advanceBy(3 * DAY); // stacd is down: nothing armed
  assert.equal(r.runs.length, 5);
  const restartedAt = r.clock.now();
  r.restart([hourly]).start();
  await r.advanceTo(restartedAt + 1000);
  assert.equal(r.runs.length, 6, 'one catch-up run, not 72');
  assert.equal(r.runs[5]!.trigger, 'catch-up');
  assert.equal(r.runs[5]!.startedAt, restartedAt);
  await r.advanceTo(restartedAt + 2 * HOUR);
  assert.equal(r.runs.length, 8);
  assert.deepEqual(
    r.runs.slice(6).map((x) => x.trigger),
    ['timer', 'timer'],
  );
  assert.equal(r.runs[6]!.startedAt, Math.ceil(restartedAt / HOUR) * HOUR);
  await r.scheduler.stop();

  // a restart inside the same hour (nothing missed) does not catch up
  const before = r.runs.length;
  r.restart([hourly]).start();
  await r.advanceTo(r.clock.now() + 1000);
  assert.equal(r.runs.length, before);
  assert.equal(r.scheduler.get('h').nextNominal, Math.ceil(r.clock.now() / HOUR) * HOUR);
  await r.scheduler.stop();
  // a schedule seen for the first time does not "catch up" on history it never had
  const fresh = rig(t, start, [def('new', { volumes: 'v', calendar: 'hourly' })]);
  fresh.store.addVolume('v');
  fresh.scheduler.start();
  await fresh.advanceTo(start + 1000);
  assert.equal(fresh.runs.length, 0);
  await fresh.scheduler.stop();
});

test('jitter: deterministic per host and schedule, within [0, jitter), spread across hosts', async (t) => {
  const jitter = 600_000;
  const offsets = Array.from({ length: 500 }, (_, i) => jitterOffset(`host-${i}`, 'nightly', jitter));
  assert.ok(offsets.every((o) => Number.isInteger(o) && o >= 0 && o < jitter));
  assert.equal(jitterOffset('host-7', 'nightly', jitter), offsets[7]);
  assert.notEqual(jitterOffset('host-7', 'hourly', jitter), offsets[7], 'schedule name is part of the hash');
  assert.ok(new Set(offsets).size > 450, 'hosts are spread');
  assert.ok(Math.min(...offsets) < jitter * 0.1 && Math.max(...offsets) > jitter * 0.9, 'the whole window is used');
  assert.equal(jitterOffset('h', 's', 0), 0);

  const start = Date.parse('2024-02-01T00:00:00Z');
  for (const host of ['alpha', 'beta', 'gamma']) {
    const r = rig(t, start, [def('h', { volumes: 'v', calendar: 'hourly', jitter: '10min' })], { hostId: host });
    r.store.addVolume('v');
    r.scheduler.start();
    await r.advanceTo(start + 5 * HOUR);
    await r.scheduler.stop();
    const off = jitterOffset(host, 'h', jitter);
    // nominal 00:00 (due at 00:00+off, after the start) … 04:00, or 01:00 … 05:00 when off = 0
    assert.equal(r.runs.length, 5);
    for (const run of r.runs) {
      assert.equal(run.startedAt - run.nominal, off);
      assert.equal(run.nominal % HOUR, 0);
    }
    assert.equal(r.scheduler.get('h').jitterOffsetMs, off);
  }
  assert.throws(
    () => def('j', { volumes: 'v', interval: '10min', jitter: '15min' }),
    /schedule "j": jitter: 15m must be shorter than the interval 10m/,
  );
});

test('volume selection by name, glob and label; unknown names are reported in the run', async (t) => {
  const start = Date.parse('2024-02-01T00:00:00Z');
  const r = rig(t, start, [def('s', { volumes: 'db-* label:tier=gold missing', interval: '1h' })]);
  r.store.addVolume('db-1');
  r.store.addVolume('db-2');
  r.store.addVolume('web', { tier: 'gold' });
  r.store.addVolume('scratch', { tier: 'bronze' });
  const run = await r.scheduler.runNow('s');
  assert.deepEqual(run.volumes.map((v) => `${v.volume}:${v.outcome}`).sort(), [
    'db-1:created',
    'db-2:created',
    'missing:failed',
    'web:created',
  ]);
  assert.equal(run.outcome, 'partial');
  assert.match(run.summary, /1 failed \(missing: unknown volume\)/);
  assert.equal(r.store.names('scratch').length, 0);
  // two manual runs within one second get distinct names
  const again = await r.scheduler.runNow('s');
  assert.notEqual(
    again.volumes.find((v) => v.volume === 'web')!.snapshot,
    run.volumes.find((v) => v.volume === 'web')!.snapshot,
  );
  assert.match(again.volumes.find((v) => v.volume === 'web')!.snapshot!, /^auto-s-20240201T000000Z-2$/);
});

test('free-space guard: skip below min-free, or prune oldest first until there is room', async (t) => {
  const start = Date.parse('2024-02-01T00:00:00Z');
  const skip = rig(t, start, [def('s', { volumes: 'v', interval: '1h', 'min-free': '10%' })]);
  skip.store.addVolume('v');
  skip.store.baseUsedBytes = 950;
  const r1 = await skip.scheduler.runNow('s');
  assert.equal(r1.outcome, 'skipped');
  assert.match(r1.volumes[0]!.reason!, /pool has 5\.0% free, below min-free=10% \(low-space=skip\)/);
  assert.equal(skip.store.created, 0);
  assert.match(skip.scheduler.get('s').lastRun!.summary, /1 skipped \(v: pool has 5\.0% free/);

  const prune = rig(t, start, [
    def('p', {
      volumes: 'v',
      interval: '1h',
      'min-free': '10%',
      'low-space': 'prune-oldest-first',
      'keep-at-least': '1',
      'keep-hourly': '24',
    }),
  ]);
  prune.store.addVolume('v');
  prune.store.snapshotBytes = 100;
  prune.store.baseUsedBytes = 400;
  for (let i = 0; i < 5; i++)
    prune.store.put('v', `auto-p-${i}`, start - (10 - i) * HOUR, {
      createdBy: 'p',
      ...(i === 0 ? { hold: 'keep' } : {}),
    });
  // 400 + 5*100 = 900 used → 10% free: fine; one more snapshot would be taken and then...
  prune.store.baseUsedBytes = 450; // 5% free
  const r2 = await prune.scheduler.runNow('p');
  assert.equal(r2.outcome, 'ok');
  // pruned auto-p-1 (oldest not held) → 15% free; auto-p-0 is held
  assert.deepEqual(
    r2.volumes[0]!.pruned.map((p) => p.snapshot),
    ['auto-p-1'],
  );
  assert.match(r2.volumes[0]!.pruned[0]!.rule, /^min-free: pool 5\.0% free < 10%/);
  assert.ok(prune.store.names('v').includes('auto-p-0'));
  prune.store.baseUsedBytes = 990;
  const r3 = await prune.scheduler.runNow('p');
  assert.equal(r3.outcome, 'skipped');
  assert.match(r3.volumes[0]!.reason!, /even after pruning every prunable snapshot/);
  assert.ok(prune.store.names('v').includes('auto-p-0'), 'held snapshot survives a full pool');
  assert.equal(
    prune.store.names('v').filter((n) => n !== 'auto-p-0').length,
    1,
    'keep-at-least=1 survives a full pool',
  );
});

test('schedules added at run time are persisted and survive a restart; config schedules cannot be removed', async (t) => {
  const start = Date.parse('2024-02-01T00:10:00Z');
  const r = rig(t, start, [def('conf', { volumes: 'v', interval: '1h' })]);
  r.store.addVolume('v');
  r.scheduler.start();
  await assert.rejects(
    r.scheduler.add('bad', { volumes: 'nope', interval: '1h' }),
    /schedule "bad": volumes: unknown volume "nope"/,
  );
  await assert.rejects(r.scheduler.add('conf', { volumes: 'v', interval: '1h' }), /exists already/);
  const st = await r.scheduler.add('rt', { volumes: 'v', calendar: '*:0/15', 'keep-hourly': '2' });
  assert.equal(st.nextNominal, Date.parse('2024-02-01T00:15:00Z'));
  assert.throws(() => r.scheduler.remove('conf'), /schedule "conf": defined in test.conf:1; remove it there/);
  assert.throws(() => r.scheduler.remove('zzz'), /schedule "zzz": no such schedule/);
  await r.advanceTo(start + HOUR);
  await r.scheduler.stop();
  const rtRuns = r.runs.filter((x) => x.schedule === 'rt').length;
  assert.equal(rtRuns, 4);

  const s2 = r.restart([def('conf', { volumes: 'v', interval: '1h' })]);
  s2.start();
  assert.deepEqual(
    s2.list().map((s) => `${s.def.name}:${s.def.source.kind}`),
    ['conf:config', 'rt:runtime'],
  );
  assert.equal(s2.get('rt').lastRun!.outcome, 'ok');
  s2.remove('rt');
  await s2.stop();
  const s3 = r.restart([]);
  s3.start();
  assert.deepEqual(
    s3.list().map((s) => s.def.name),
    [],
  );
  await s3.stop();
});

test('freshness lists each volume once, however often the caller names it', async (t) => {
  const r = rig(t, Date.parse('2024-05-01T00:00:00Z'), []);
  r.store.addVolume('vol1');
  r.store.addVolume('vol2');
  r.store.put('vol1', 's1', Date.parse('2024-04-30T00:00:00Z'));
  const f = await r.scheduler.freshness([...Array<string>(5000).fill('vol1'), 'nope', 'nope']);
  assert.equal(r.store.listed, 1);
  assert.deepEqual(f.volumes, [{ volume: 'vol1', count: 1, newest: Date.parse('2024-04-30T00:00:00Z') }]);
  assert.deepEqual(f.unknown, ['nope']);
  r.store.listed = 0;
  assert.deepEqual(
    (await r.scheduler.freshness()).volumes.map((v) => v.volume),
    ['vol1', 'vol2'],
  );
  assert.equal(r.store.listed, 2);
});
