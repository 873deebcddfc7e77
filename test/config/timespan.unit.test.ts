import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimeSpan, timeSpanRepr } from '../../daemons/config/timespan.js';

// every example of the spec (§3.7): [text, seconds, isFloat] or null
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
