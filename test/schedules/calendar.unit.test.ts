import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCalendar, nextCalendarRun } from '../../daemons/schedules/calendar.js';
import { resolveWall, toNaive, formatInZone } from '../../daemons/schedules/zone.js';

/** The next n firing instants after `from`, rendered in the zone. */
function runs(spec: string, from: string, tz: string, n: number): string[] {
  const s = parseCalendar(spec);
  let t = Date.parse(from);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const next = nextCalendarRun(s, t, tz);
    assert.ok(next !== null && next > t, `${spec}: no next run after ${new Date(t).toISOString()}`);
    out.push(formatInZone(next, tz));
    t = next;
  }
  return out;
}

test('shorthands expand as systemd documents them', () => {
  assert.equal(parseCalendar('hourly').normalized, '*-*-* *:00:00');
  assert.equal(parseCalendar('daily').normalized, '*-*-* 00:00:00');
  assert.equal(parseCalendar('weekly').normalized, 'Mon *-*-* 00:00:00');
  assert.equal(parseCalendar('monthly').normalized, '*-*-01 00:00:00');
  assert.equal(parseCalendar('yearly').normalized, '*-01-01 00:00:00');
  assert.equal(parseCalendar('Daily').normalized, '*-*-* 00:00:00');
});

test('full specs: date, time, weekdays, lists, ranges, steps', () => {
  assert.equal(parseCalendar('*-*-* 02:00:00').normalized, '*-*-* 02:00:00');
  assert.equal(parseCalendar('Mon..Fri *-*-* 08:00').normalized, 'Mon,Tue,Wed,Thu,Fri *-*-* 08:00:00');
  assert.equal(parseCalendar('*:0/15').normalized, '*-*-* *:00,15,30,45:00');
  assert.equal(parseCalendar('Sat,Sun 10:30').normalized, 'Sat,Sun *-*-* 10:30:00');
  assert.equal(parseCalendar('2025-06-01 12:00').normalized, '2025-06-01 12:00:00');
  assert.equal(parseCalendar('*-1,7-1 8..18/2:00').normalized, '*-01,07-01 08,10,12,14,16,18:00:00');
  assert.equal(parseCalendar('Sat..Sun').normalized, 'Sat,Sun *-*-* 00:00:00');
});

test('next runs in UTC', () => {
  assert.deepEqual(runs('*:0/15', '2024-06-07T12:07:00Z', 'UTC', 3), [
    '2024-06-07 12:15:00 +00:00',
    '2024-06-07 12:30:00 +00:00',
    '2024-06-07 12:45:00 +00:00',
  ]);
  // Friday 12:00 → Monday, Tuesday 08:00
  assert.deepEqual(runs('Mon..Fri *-*-* 08:00', '2024-06-07T12:00:00Z', 'UTC', 2), [
    '2024-06-10 08:00:00 +00:00',
    '2024-06-11 08:00:00 +00:00',
  ]);
  assert.deepEqual(runs('monthly', '2024-01-31T12:00:00Z', 'UTC', 2), [
    '2024-02-01 00:00:00 +00:00',
    '2024-03-01 00:00:00 +00:00',
  ]);
  assert.deepEqual(runs('yearly', '2024-01-01T00:00:00Z', 'UTC', 1), ['2025-01-01 00:00:00 +00:00']);
  assert.deepEqual(runs('*-02-29 00:00', '2024-03-01T00:00:00Z', 'UTC', 1), ['2028-02-29 00:00:00 +00:00']);
  // strictly after: a run exactly at `after` is not returned again
  assert.deepEqual(runs('daily', '2024-01-01T00:00:00Z', 'UTC', 1), ['2024-01-02 00:00:00 +00:00']);
  // a spec with an explicit past year never fires again
  assert.equal(nextCalendarRun(parseCalendar('2020-01-01 00:00'), Date.parse('2024-01-01T00:00:00Z'), 'UTC'), null);
});

test('zone resolution: unique, gap (spring forward), ambiguous (fall back)', () => {
  const naive = (s: string): number => Date.parse(`${s}Z`);
  assert.deepEqual(resolveWall(naive('2024-07-01T12:00:00'), 'Europe/Berlin'), {
    kind: 'unique',
    instant: Date.parse('2024-07-01T10:00:00Z'),
  });
  assert.deepEqual(resolveWall(naive('2024-03-31T02:30:00'), 'Europe/Berlin'), {
    kind: 'gap',
    instant: Date.parse('2024-03-31T01:00:00Z'),
  });
  assert.deepEqual(resolveWall(naive('2024-10-27T02:30:00'), 'Europe/Berlin'), {
    kind: 'ambiguous',
    first: Date.parse('2024-10-27T00:30:00Z'),
    second: Date.parse('2024-10-27T01:30:00Z'),
  });
  assert.deepEqual(resolveWall(naive('2024-03-10T02:30:00'), 'America/New_York'), {
    kind: 'gap',
    instant: Date.parse('2024-03-10T07:00:00Z'),
  });
  assert.equal(toNaive(Date.parse('2024-11-03T05:30:00Z'), 'America/New_York'), naive('2024-11-03T01:30:00'));
  assert.equal(toNaive(Date.parse('2024-11-03T06:30:00Z'), 'America/New_York'), naive('2024-11-03T01:30:00'));
});

test('DST: a wall time skipped by spring-forward runs once, at the first valid instant after it', () => {
  assert.deepEqual(runs('*-*-* 02:30', '2024-03-29T12:00:00Z', 'Europe/Berlin', 4), [
    '2024-03-30 02:30:00 +01:00',
    '2024-03-31 03:00:00 +02:00',
    '2024-04-01 02:30:00 +02:00',
    '2024-04-02 02:30:00 +02:00',
  ]);
  assert.deepEqual(runs('*-*-* 02:30', '2024-03-09T12:00:00Z', 'America/New_York', 3), [
    '2024-03-10 03:00:00 -04:00',
    '2024-03-11 02:30:00 -04:00',
    '2024-03-12 02:30:00 -04:00',
  ]);
});

test('DST: a wall time repeated by fall-back runs once, at its first occurrence', () => {
  assert.deepEqual(runs('*-*-* 02:30', '2024-10-25T12:00:00Z', 'Europe/Berlin', 3), [
    '2024-10-26 02:30:00 +02:00',
    '2024-10-27 02:30:00 +02:00',
    '2024-10-28 02:30:00 +01:00',
  ]);
  assert.deepEqual(runs('*-*-* 01:30', '2024-11-02T12:00:00Z', 'America/New_York', 3), [
    '2024-11-03 01:30:00 -04:00',
    '2024-11-04 01:30:00 -05:00',
    '2024-11-05 01:30:00 -05:00',
  ]);
});

test('DST: an hourly spec runs every real hour (23 on spring-forward day, 25 on fall-back day)', () => {
  for (const [tz, day, expected] of [
    ['Europe/Berlin', '2024-03-31', 23],
    ['Europe/Berlin', '2024-10-27', 25],
    ['America/New_York', '2024-03-10', 23],
    ['America/New_York', '2024-11-03', 25],
  ] as const) {
    const spec = parseCalendar('hourly');
    // local midnight of `day` and of the day after, as instants
    const start = (resolveWall(Date.parse(`${day}T00:00:00Z`), tz) as { instant: number }).instant;
    const end = (resolveWall(Date.parse(`${day}T00:00:00Z`) + 86_400_000, tz) as { instant: number }).instant;
    const seen: number[] = [];
    let t = start - 1;
    for (;;) {
      const n = nextCalendarRun(spec, t, tz)!;
      if (n >= end) break;
      seen.push(n);
      t = n;
    }
    assert.equal(seen.length, expected, `${tz} ${day}`);
    for (let i = 1; i < seen.length; i++)
      assert.equal(seen[i]! - seen[i - 1]!, 3_600_000, `${tz} ${day}: runs one real hour apart`);
  }
});

test('malformed calendar specs are rejected with a reason that quotes the spec', () => {
  const cases: [string, RegExp][] = [
    ['', /empty calendar spec/],
    ['*-*-* 25:00', /"\*-\*-\* 25:00": hour 25 is out of range 0\.\.23/],
    ['*-*-* 12:60', /minute 60 is out of range/],
    ['Mon..Fry', /"Mon\.\.Fry": unknown weekday "Fry"/],
    ['Fri..Mon', /runs backwards/],
    ['*-13-01', /month 13 is out of range/],
    ['*-02-30', /never matches any day/],
    ['*-*-* 1:2:3:4', /must be HOUR:MINUTE\[:SECOND\]/],
    ['*-*-* 12:00 13:00', /more than one time/],
    ['12:00 Mon', /weekdays must come first/],
    ['*-*-* 0/0:00', /step 0 is out of range/],
    ['*-*-* a:00', /hour "a" is not a number/],
    ['*-*-~1', /not supported/],
    ['1-2-3-4', /YEAR-MONTH-DAY or MONTH-DAY/],
    ['tomorrow', /unknown weekday "tomorrow"/],
  ];
  for (const [spec, re] of cases) assert.throws(() => parseCalendar(spec), re, spec);
});
