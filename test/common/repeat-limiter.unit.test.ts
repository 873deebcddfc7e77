// Log flood control: a warning repeated past its burst is counted, not written, and reported once per window;
// info lines and the operator's own reload verdicts always pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RepeatLimiter } from '../../daemons/common/repeat-limiter.js';
import { initLog, log, reportSuppressedLines } from '../../daemons/common/log.js';

test('repeat limiter: a burst per window, the rest counted and reported once', () => {
  let now = 0;
  const l = new RepeatLimiter(3, 1_000, 100, () => now);
  const admitted = Array.from({ length: 10 }, () => l.admit('40:connect failed'));
  assert.deepEqual(admitted, [true, true, true, false, false, false, false, false, false, false]);
  assert.equal(l.admit('40:another line'), true, 'other lines are not held back');
  assert.deepEqual(l.drain(), [{ key: '40:connect failed', count: 7 }]);
  assert.deepEqual(l.drain(), [], 'reported once');
  now = 1_000;
  assert.equal(l.admit('40:connect failed'), true, 'a new window lets the line through again');
});

test('repeat limiter: the number of tracked lines is bounded', () => {
  let now = 0;
  const l = new RepeatLimiter(1, 1_000, 10, () => now);
  for (let i = 0; i < 1_000; i++) l.admit(`line ${i}`);
  assert.equal(l.admit('line 999'), false, 'the newest lines are still tracked');
  now = 5_000;
  assert.deepEqual(l.drain(), [{ key: 'line 999', count: 1 }]);
  assert.deepEqual(l.drain(), []);
});

test('logger: a warning repeated 50 times is written 5 times, then reported as suppressed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stas-log-'));
  try {
    const file = join(dir, 'log');
    initLog({ name: 'test', destination: file });
    for (let i = 0; i < 50; i++) log().warn('controller nvme9: connect failed: connection refused');
    for (let i = 0; i < 7; i++) log().info('an info line is never held back');
    for (let i = 0; i < 7; i++)
      log().error('reload refused: 1 error(s) in stafd.conf; keeping the running configuration');
    reportSuppressedLines();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    assert.equal(lines.filter((m) => m === 'controller nvme9: connect failed: connection refused').length, 5);
    assert.equal(lines.filter((m) => m === 'an info line is never held back').length, 7);
    assert.equal(lines.filter((m) => m.startsWith('reload refused')).length, 7, 'reload verdicts answer the operator');
    assert.ok(
      lines.some((m) => /^45 more line\(s\) like this one suppressed in the last 60 s: controller nvme9/.test(m)),
      lines.join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
