// The daemons' own command line: --version, --help, --check-config with file:line messages and exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { scriptPath } from '../harness/daemons.js';
import { makeTestEtc } from '../harness/env.js';

function run(
  prog: 'stafd' | 'stacd',
  args: string[],
  env: Record<string, string> = {},
): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [scriptPath(prog), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

for (const prog of ['stafd', 'stacd'] as const) {
  test(`${prog} --version and --help`, () => {
    const v = run(prog, ['--version']);
    assert.equal(v.code, 0);
    assert.match(v.out, /^stas \d+\.\d+\.\d+\n$/);
    const h = run(prog, ['--help']);
    assert.equal(h.code, 0);
    for (const word of [
      '--conf-file',
      '--check-config',
      '--tron',
      '--syslog',
      'SIGHUP',
      'SIGTERM',
      prog === 'stafd' ? 'org.nvmexpress.staf' : 'org.nvmexpress.stac',
    ]) {
      assert.ok(h.out.includes(word), `--help mentions ${word}`);
    }
  });

  test(`${prog} --check-config: clean file, file with problems, unreadable file`, () => {
    const etc = makeTestEtc();
    try {
      const conf = prog === 'stafd' ? etc.stafdConf : etc.stacdConf;
      const clean = run(prog, ['-f', conf, '--check-config'], etc.env);
      assert.equal(clean.code, 0, clean.err);
      assert.equal(clean.out, `${conf}: OK\n`);
      etc.write(
        prog === 'stafd' ? 'stafd.conf' : 'stacd.conf',
        '[Global]\nqueue-size=8\nbogus-option=1\n\n[global]\nkato=3\n',
      );
      const bad = run(prog, ['-f', conf, '--check-config'], etc.env);
      assert.equal(bad.code, 1);
      assert.match(bad.err, new RegExp(`${conf.replace(/[.]/g, '\\.')}:2: .*queue-size.*8.*16\\.\\.1024`));
      assert.match(bad.err, new RegExp(`${conf.replace(/[.]/g, '\\.')}:3: .*bogus-option`));
      assert.match(bad.err, new RegExp(`${conf.replace(/[.]/g, '\\.')}:5: .*\\[global\\].*case-sensitive`));
      assert.match(bad.out, /3 problem\(s\)/);
      const dir = join(etc.dir, 'a-directory.conf');
      mkdirSync(dir);
      const unreadable = run(prog, ['-f', dir, '--check-config'], etc.env);
      assert.equal(unreadable.code, 2);
      assert.match(unreadable.err, /a-directory\.conf/);
    } finally {
      etc.cleanup();
    }
  });
}
