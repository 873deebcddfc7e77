// Echoed values are cut: a 50 MB option value must not be copied whole into a log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { echoValue, ECHO_MAX_CHARS } from '../../daemons/common/echo.js';
import { ServiceConfig } from '../../daemons/config/service-config.js';

test('short values are echoed as they are, long ones cut with their real length', () => {
  assert.equal(echoValue('30'), '30');
  const long = 'x'.repeat(50 * 1024 * 1024);
  const e = echoValue(long);
  assert.ok(e.length < ECHO_MAX_CHARS + 40, e);
  assert.match(e, /^x{80}… \(52428800 characters\)$/);
  assert.equal(echoValue('a\nb\x1b'), 'a\\x0ab\\x1b');
});

test('a 50 MB kato= value (in [Global] and on a controller= line) gives short warnings', () => {
  const big = '9'.repeat(1024) + 'x'.repeat(50 * 1024 * 1024);
  for (const kind of ['stafd', 'stacd'] as const) {
    const text = `[Global]\nkato=${big}\n[Controllers]\ncontroller=transport=tcp;traddr=192.0.2.1;kato=${big}\n`;
    const { warnings } = ServiceConfig.fromFiles(kind, '/etc/stas/x.conf', [{ path: '/etc/stas/x.conf', text }]);
    const kato = warnings.map(String).filter((w) => w.includes('kato'));
    assert.ok(kato.length >= 2, JSON.stringify(kato.map((w) => w.slice(0, 200))));
    for (const w of kato) assert.ok(w.length < 600, `warning of ${w.length} characters: ${w.slice(0, 300)}`);
    assert.ok(
      kato.every((w) => w.includes('characters)')),
      kato.join('\n'),
    );
  }
});
