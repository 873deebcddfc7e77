// CLI golden output (tables and --json) against the real daemons: stafd follows a discovery controller on the
// in-process fake target, stacd follows what stafd found. Variable parts (port, timers, paths) are normalised;
// everything else must match the files in test/ctl/golden/ byte for byte. STAS_UPDATE_GOLDEN=1 rewrites them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { FakeTarget } from '../harness/fake-target/index.js';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { startDaemon, runCli, type RunningDaemon } from '../harness/daemons.js';
import { makeTestEtc, type TestEtc } from '../harness/env.js';
import { repoRoot } from '../harness/repo.js';

let target: FakeTarget;
let bus: PrivateBus;
let etc: TestEtc;
let stafd: RunningDaemon;
let stacd: RunningDaemon;

function normalise(text: string): string {
  return text
    .replaceAll(String(target.port), '<PORT>')
    .replaceAll(etc.dir, '<TMP>')
    .replace(/\d+(\.\d+)?s \[\d+(\.\d+)?s\]/g, '<N>s [<N>s]')
    .replace(/"pid": \d+/g, '"pid": <PID>');
}

async function golden(name: string, prog: 'stafctl' | 'stacctl', args: string[]): Promise<void> {
  const r = await runCli(prog, args, { busAddress: bus.address, env: etc.env });
  assert.equal(r.code, 0, `${prog} ${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stderr, '');
  const got = normalise(r.stdout);
  const file = join(repoRoot(), 'test', 'ctl', 'golden', `${name}.txt`);
  if (process.env.STAS_UPDATE_GOLDEN === '1' || !existsSync(file)) {
    // a missing golden file is written once and the test fails, so it is never silently "passing"
    writeFileSync(file, got);
    assert.fail(`wrote ${file}: review it and commit it`);
  }
  assert.equal(got, readFileSync(file, 'utf8'), `${prog} ${args.join(' ')} differs from ${file}`);
}

before(async () => {
  target = await FakeTarget.start({
    discoveryEntries: [
      {
        subtype: 3,
        subnqn: 'nqn.2014-08.org.nvmexpress.discovery',
        traddr: '127.0.0.1',
        trsvcid: '0',
        treq: 4,
        portid: 1,
      },
      {
        subtype: 2,
        subnqn: 'nqn.2024-01.io.example:golden-1',
        traddr: '127.0.0.1',
        trsvcid: '4420',
        treq: 4,
        portid: 1,
      },
      {
        subtype: 2,
        subnqn: 'nqn.2024-01.io.example:golden-2',
        traddr: '127.0.0.1',
        trsvcid: '4420',
        treq: 0,
        portid: 1,
        eflags: 4,
      },
    ],
  });
  etc = makeTestEtc({
    stafd: `[Global]\npleo=disabled\n\n[Service Discovery]\nzeroconf=disabled\n\n[Controllers]\ncontroller=transport=tcp;traddr=127.0.0.1;trsvcid=${target.port}\n`,
  });
  bus = await startPrivateBus();
  stafd = await startDaemon('stafd', { busAddress: bus.address, confFile: etc.stafdConf, env: etc.env });
  stacd = await startDaemon('stacd', { busAddress: bus.address, confFile: etc.stacdConf, env: etc.env });
  await stafd.waitForLog('Received discovery log pages', 15_000);
});

after(async () => {
  await stafd?.stop().catch(() => undefined);
  await stacd?.stop().catch(() => undefined);
  await bus?.stop();
  await target?.stop();
  etc?.cleanup();
});

test('stafctl ls (table and --json)', async () => {
  await golden('stafctl-ls', 'stafctl', ['ls']);
  await golden('stafctl-ls.json', 'stafctl', ['ls', '--json']);
  await golden('stafctl-ls-d.json', 'stafctl', ['ls', '-d', '--json']);
});

test('stafctl dlp and adlp (table and --json)', async () => {
  const args = ['-t', 'tcp', '-a', '127.0.0.1', '-s', String(target.port)];
  await golden('stafctl-dlp', 'stafctl', ['dlp', ...args]);
  await golden('stafctl-dlp.json', 'stafctl', ['dlp', ...args, '--json']);
  await golden('stafctl-adlp', 'stafctl', ['adlp']);
  await golden('stafctl-adlp.json', 'stafctl', ['adlp', '--json']);
});

test('stafctl dlp with a non-matching 7-tuple prints an empty table, not an error', async () => {
  await golden('stafctl-dlp-nomatch', 'stafctl', ['dlp', '-a', '127.0.0.1', '-s', String(target.port), '-f', 'eth9']);
});

test('stacctl ls lists the I/O controllers of what stafd found', async () => {
  // stacd follows stafd's log pages: wait for its reconcile to take both NVM entries in
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await runCli('stacctl', ['ls', '--json'], { busAddress: bus.address });
    if (r.code === 0 && (JSON.parse(r.stdout) as unknown[]).length === 2) break;
    if (Date.now() > deadline) assert.fail(`stacd did not list 2 I/O controllers within 15 s: ${r.stdout}${r.stderr}`);
    await new Promise((res) => setTimeout(res, 250));
  }
  await golden('stacctl-ls', 'stacctl', ['ls']);
  await golden('stacctl-ls.json', 'stacctl', ['ls', '--json']);
});

test('errors are one line (or a JSON object) with the documented exit code', async () => {
  await stacd.stop();
  const r = await runCli('stacctl', ['ls', '--json'], { busAddress: bus.address });
  assert.equal(r.code, 3);
  assert.deepEqual(JSON.parse(r.stdout), {
    error: {
      kind: 'not-running',
      message: 'stacd is not running (nobody owns org.nvmexpress.stac on the system bus)',
      exitCode: 3,
    },
  });
  const plain = await runCli('stacctl', ['status'], { busAddress: bus.address });
  assert.equal(plain.code, 3);
  assert.equal(plain.stderr, 'stacd is not running (nobody owns org.nvmexpress.stac on the system bus)\n');
  const noBus = await runCli('stafctl', ['ls'], { busAddress: 'unix:path=/nonexistent/bus' });
  assert.equal(noBus.code, 5);
  assert.match(noBus.stderr, /cannot connect to the system bus at unix:path=\/nonexistent\/bus/);
});
