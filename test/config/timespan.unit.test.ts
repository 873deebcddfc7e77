import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTimeSpan, parseSystemdTimeSpan, parseTimeSpan, timeSpanRepr } from '../../daemons/config/timespan.js';

// Both syntaxes of the one time-span module: nvme-stas's (stafd.conf) and systemd's (snapshot schedules, stacctl).

// nvme-stas: every example of the spec (§3.7): [text, seconds, isFloat] or null
const CASES: Array<[string, number, boolean] | [string, null]> = [
  ['90', 90, true],
  ['-1', -1, true],
  ['0.5', 0.5, true],
  ['72hours', 259200, false],
  ['72 hours', 259200, false],
  ['3 days 5 hours', 277200, false],
  ['5days', 432000, false],
  ['1d', 86400, false],
  ['2h30m', 9000, false],
  ['1.5h', 5400, false],
  ['1:24', 84, false],
  [':22', 22, false],
  ['1:02:03', 3723, false],
  ['1:02:03:04', 93784, false],
  ['1 minute, 24 secs', 84, false],
  ['1m24s', 84, false],
  ['1.2 minutes', 72, false],
  ['1.2 seconds', 1.2, true],
  ['- 1 minute', -60, false],
  ['+ 1 minute', 60, false],
  ['  10 s ', 10, false],
  ['10S', 10, false],
  ['1w', null],
  ['blah', null],
  ['', null],
  // more forms and pytimeparse quirks
  ['1 hr 2 mins 3 secs', 3723, false],
  ['2 dys / 1 hrs', 176400, false],
  ['1d 1:00:00', 90000, false],
  ['1:05.25', 65.25, true],
  ['-1.5m30s', -60, false], // the sign applies to the truncated units only, not to the whole seconds
  ['1.2.3s', null], // Python's float() rejects it (nvme-stas would raise)
  ['1_000', 1000, true], // Python float() accepts digit separators
];

for (const c of CASES) {
  test(`time span ${JSON.stringify(c[0])}`, () => {
    const r = parseTimeSpan(c[0]);
    if (c[1] === null) assert.equal(r, null);
    else assert.deepEqual(r, { seconds: c[1], isFloat: c[2] });
  });
}

test('Python repr of time spans, as printed in "unresponsive timeout"', () => {
  assert.equal(timeSpanRepr(parseTimeSpan('72hours')!), '259200');
  assert.equal(timeSpanRepr(parseTimeSpan('10 seconds')!), '10');
  assert.equal(timeSpanRepr(parseTimeSpan('90')!), '90.0');
  assert.equal(timeSpanRepr(parseTimeSpan('1.2 seconds')!), '1.2');
  assert.equal(timeSpanRepr(parseTimeSpan('-1')!), '-1.0');
});

// systemd (schedules' interval/max-age/jitter/hook-timeout, stacctl schedule check --warn/--crit): [text, ms]
const SYSTEMD: Array<[string, number]> = [
  ['1h', 3_600_000],
  ['15min', 900_000],
  ['2d 12h', 216_000_000],
  ['90', 90_000], // a bare number is seconds
  ['1.5', 1_500],
  ['1w', 604_800_000],
  ['26h', 93_600_000],
  ['1h30min', 5_400_000],
  ['30min 1h', 5_400_000], // any order
  ['1h 1h', 7_200_000], // repeats add up
  ['1.5h', 5_400_000],
  ['500ms', 500],
  ['2 msec', 2],
  ['10S', 10_000], // a one-letter unit in either case ...
  ['1M', 2_629_800_000], // ... but M is months and m minutes
  ['1m', 60_000],
  ['1y', 31_557_600_000],
  ['  3 days  ', 259_200_000],
];
for (const [text, ms] of SYSTEMD) {
  test(`systemd time span ${JSON.stringify(text)}`, () => assert.deepEqual(parseSystemdTimeSpan(text), { ms }));
}

test('systemd time spans: a bare number in milliseconds when the caller says so', () => {
  assert.deepEqual(parseSystemdTimeSpan('250', 'ms'), { ms: 250 });
});

test('systemd time spans: what is refused, and why', () => {
  const errors: Array<[string, string]> = [
    ['', 'empty time span'],
    ['   ', 'empty time span'],
    ['-1h', '"-1h" is not a time span (e.g. 90s, 15min, 1h, 2d 12h)'],
    ['1:30', '"1:30" is not a time span (e.g. 90s, 15min, 1h, 2d 12h)'], // nvme-stas's clock forms are not systemd's
    ['1h, 2m', '"1h, 2m" is not a time span (e.g. 90s, 15min, 1h, 2d 12h)'],
    ['1.2.3s', '"1.2.3s" is not a time span (e.g. 90s, 15min, 1h, 2d 12h)'],
    ['h', '"h" is not a time span (e.g. 90s, 15min, 1h, 2d 12h)'],
    ['5 fortnights', '"5 fortnights": unknown time unit "fortnights"'],
    ['1Min', '"1Min": unknown time unit "Min"'],
    ['1dys', '"1dys": unknown time unit "dys"'], // a pytimeparse word
  ];
  for (const [text, error] of errors) assert.deepEqual(parseSystemdTimeSpan(text), { error }, text);
  // and the other way round: systemd words nvme-stas does not know
  for (const text of ['1w', '500ms', '1y']) assert.equal(parseTimeSpan(text), null, text);
});

test('short human form of milliseconds', () => {
  assert.equal(formatTimeSpan(42 * 60_000), '42m');
  assert.equal(formatTimeSpan(26 * 3_600_000 + 5 * 60_000), '1d 2h');
  assert.equal(formatTimeSpan(45_000), '45s');
  assert.equal(formatTimeSpan(-90_000), '-1m 30s');
  assert.equal(formatTimeSpan(0), '0s');
});
