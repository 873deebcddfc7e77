// Issue #17 defect 1: a daemon that loses the bus (dbus-daemon gone, or dropping it for an oversized message) must
// not live on unreachable nor end silently: it logs a fatal line and exits 1, so that systemd (Restart=on-failure in
// the shipped units) starts it again, and a new start on a working bus is normal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPrivateBus } from '../harness/bus.js';
import { startDaemon } from '../harness/daemons.js';
import { makeTestEtc } from '../harness/env.js';
import { repoRoot } from '../harness/repo.js';

test('the shipped units restart a daemon that failed', () => {
  for (const prog of ['stafd', 'stacd']) {
    const unit = readFileSync(join(repoRoot(), 'etc', 'systemd', `${prog}.service`), 'utf8');
    assert.match(unit, /^Restart=on-failure$/m, prog);
  }
});

for (const prog of ['stafd', 'stacd'] as const) {
  test(
    `${prog}: the bus goes away -> a fatal line and exit status 1; a new start works`,
    { timeout: 90_000 },
    async () => {
      const etc = makeTestEtc({ stafd: '[Service Discovery]\nzeroconf=disabled\n' });
      const env = { ...etc.env, STAS_FABRICS_DRIVER: 'userspace' };
      const bus = await startPrivateBus();
      try {
        const d = await startDaemon(prog, {
          busAddress: bus.address,
          confFile: prog === 'stafd' ? etc.stafdConf : etc.stacdConf,
          env,
        });
        await d.waitForLog(`${prog} ready on D-Bus`, 20_000);
        const exited = new Promise<number | null>((r) => d.proc.on('exit', (code) => r(code)));
        process.kill(bus.pid, 'SIGKILL');
        const code = await Promise.race([exited, new Promise<'alive'>((r) => setTimeout(() => r('alive'), 20_000))]);
        if (code === 'alive') d.proc.kill('SIGKILL');
        assert.equal(code, 1, `${prog} still running 20 s after the bus went away:\n${d.output().slice(-2000)}`);
        const line = d
          .output()
          .split('\n')
          .find((l) => l.includes('lost the D-Bus connection'));
        assert.ok(line, d.output().slice(-2000));
        const rec = JSON.parse(line) as { level: number; msg: string };
        assert.equal(rec.level, 60, 'fatal');
        assert.match(rec.msg, new RegExp(`exiting \\(status 1\\) for the service manager to restart ${prog}`));
      } finally {
        await bus.stop();
      }
      // what systemd would do next: start it again, on a bus that works
      const bus2 = await startPrivateBus();
      try {
        const d2 = await startDaemon(prog, {
          busAddress: bus2.address,
          confFile: prog === 'stafd' ? etc.stafdConf : etc.stacdConf,
          env,
        });
        await d2.waitForLog(`${prog} ready on D-Bus`, 20_000);
        assert.equal(await d2.stop(), 0);
      } finally {
        await bus2.stop();
        etc.cleanup();
      }
    },
  );
}
