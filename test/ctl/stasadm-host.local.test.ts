// stasadm's host-identity commands end to end (the compiled CLI on temporary files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../harness/daemons.js';
import { makeTestEtc } from '../harness/env.js';

test('hostnqn, hostid, set-symname, clear-symname rewrite sys.conf and keep its comments', async () => {
  const etc = makeTestEtc({ sys: '# site identity, managed by stasadm\n[Host]\n# keep this comment\n' });
  try {
    const nqnFile = join(etc.dir, 'hostnqn');
    let r = await runCli('stasadm', ['-c', etc.sysConf, 'hostnqn', '-f', nqnFile], { env: etc.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const nqn = readFileSync(nqnFile, 'utf8');
    assert.match(
      nqn,
      /^nqn\.2014-08\.org\.nvmexpress:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$/,
    );
    r = await runCli('stasadm', ['-c', etc.sysConf, 'hostid'], { env: etc.env });
    assert.equal(r.code, 0, r.stderr);
    r = await runCli('stasadm', ['-c', etc.sysConf, 'set-symname', 'rack 7 host 3'], { env: etc.env });
    assert.equal(r.code, 0, r.stderr);
    let conf = readFileSync(etc.sysConf, 'utf8');
    assert.match(conf, /^# site identity, managed by stasadm$/m);
    assert.match(conf, /^# keep this comment$/m);
    assert.match(conf, new RegExp(`^nqn = file://${nqnFile.replace(/[.]/g, '\\.')}$`, 'm'));
    assert.match(conf, /^id = [0-9a-f-]{36}$/m);
    assert.match(conf, /^symname = rack 7 host 3$/m);
    r = await runCli('stasadm', ['-c', etc.sysConf, 'clear-symname'], { env: etc.env });
    assert.equal(r.code, 0, r.stderr);
    conf = readFileSync(etc.sysConf, 'utf8');
    assert.doesNotMatch(conf, /symname/);
    assert.match(conf, /^\[Host\]$/m);
  } finally {
    etc.cleanup();
  }
});

test('no sub-command prints usage and exits 1; an unknown one is a usage error (2)', async () => {
  const none = await runCli('stasadm', []);
  assert.equal(none.code, 1);
  assert.match(none.stdout, /Usage: stasadm/);
  const bad = await runCli('stasadm', ['frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command 'frobnicate'/);
});

test('an unwritable configuration file is a one-line error naming it', async () => {
  const etc = makeTestEtc();
  try {
    // a path below a regular file can never be created
    writeFileSync(join(etc.dir, 'plain-file'), 'x');
    const r = await runCli('stasadm', ['-c', join(etc.dir, 'plain-file', 'sys.conf'), 'hostid'], { env: etc.env });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /plain-file\/sys\.conf/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  } finally {
    etc.cleanup();
  }
});
