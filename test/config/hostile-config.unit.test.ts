// Issue #17, configuration half: which problems are errors (a reload refuses the file) and which are notes
// (nvme-stas tolerates them); secrets in every key spelling; bounded reads of config and key files; sys.conf checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadServiceConfig, type ServiceKind } from '../../daemons/config/index.js';
import { serviceConfigLoader } from '../../daemons/config/daemon-config.js';
import { checkSysConfig, loadSysConfig } from '../../daemons/config/sys-config.js';
import { checkStorageSections } from '../../daemons/volumes/stacd-storage.js';
import { canonicalKey, isSecretKey, redactObject, redactSecrets } from '../../daemons/common/secrets.js';
import { FileTooLargeError, readFileBoundedSync, readFileBounded } from '../../daemons/common/bounded-read.js';
import { TID } from '../../daemons/common/tid.js';
import { initLog, log } from '../../daemons/common/log.js';
import { tempDir, write } from './helpers.js';

const dir = tempDir();
let n = 0;
function load(kind: ServiceKind, text: string | Buffer, mode?: number) {
  const path = write(join(dir, `c${n++}`, `${kind}.conf`), text as string);
  if (mode !== undefined) chmodSync(path, mode);
  const r = serviceConfigLoader(kind, kind === 'stacd' ? checkStorageSections : undefined).loadConfig(path);
  return { ...r, path };
}
const CTRL = 'transport=tcp;traddr=10.0.0.1;trsvcid=4420;subsysnqn=nqn.2024-01.io.example:s1';

test('errors: a token without "=", an invalid value, text outside a section, a bare key; the file:line and option are named', () => {
  const r = load('stacd', `[Global]\nkato=banana\n[Controllers]\ncontroller=${CTRL};trsvcid41809\nbare-key\n`);
  assert.equal(r.errors.length, 3, r.errors.join('\n'));
  assert.match(r.errors[0]!, new RegExp(`^${r.path}:2: \\[Global\\] kato: "banana"`));
  assert.match(r.errors[1]!, new RegExp(`^${r.path}:4: \\[Controllers\\] controller: token "trsvcid41809" has no "="`));
  assert.match(r.errors[2]!, new RegExp(`^${r.path}:5: .*bare-key`));
  assert.deepEqual(r.warnings, []);
});

test('notes, not errors: unknown option and section (nvme-stas accepts them), a controller= entry the daemon drops, an empty exclude=', () => {
  const r = load(
    'stacd',
    `[Global]\nbogus=1\n[Nonsense]\nx=1\n[Controllers]\ncontroller=transport=tcp;traddr=10.0.0.1\nexclude=\n`,
  );
  assert.deepEqual(r.errors, []);
  assert.equal(r.warnings.length, 4, r.warnings.join('\n'));
  assert.match(r.warnings[0]!, /:2: \[Global\] bogus: unknown option/);
  assert.match(r.warnings[1]!, /:3: unknown section \[Nonsense\]/);
  assert.match(r.warnings[2]!, /:6: \[Controllers\] controller: stacd will ignore this entry: subsysnqn missing/);
  assert.match(r.warnings[3]!, /:7: \[Controllers\] exclude: an empty exclude= entry excludes every controller/);
});

test('a random (binary) file is an error at the first bad line', () => {
  const r = load('stafd', randomBytes(8192));
  assert.ok(r.errors.length > 0);
  assert.match(r.errors[0]!, /:\d+: not a text file/);
});

test('stacd: an unknown key in [Schedule s1] and a bad [Volumes] key are errors of the same validation', () => {
  const r = load('stacd', '[Schedule s1]\nvolumes=*\ninterval=1h\nkeep-daily=3\ncolour=blue\n[Volumes]\nroott=/x\n');
  assert.equal(r.errors.length, 2, r.errors.join('\n'));
  assert.ok(
    r.errors.some((e) => /:5: schedule "s1": colour: unknown setting/.test(e)),
    r.errors.join('\n'),
  );
  assert.ok(
    r.errors.some((e) => /:7: \[Volumes\] roott: unknown key/.test(e)),
    r.errors.join('\n'),
  );
});

test('echoed values are truncated: a 1 MB kato= value does not end up whole in a message', () => {
  const r = load('stafd', `[Global]\nkato=${'9x'.repeat(500_000)}\n`);
  assert.equal(r.errors.length, 1);
  assert.ok(r.errors[0]!.length < 400, `${r.errors[0]!.length} characters`);
  assert.match(r.errors[0]!, /\(1000000 characters\)/);
});

test('key names: case-insensitive and _ = -, for every key; secrets in any spelling are secrets', () => {
  assert.equal(canonicalKey(' DHCHAP_Ctrl_Secret '), 'dhchap-ctrl-secret');
  for (const k of ['dhchap-secret', 'DHCHAP-SECRET', 'dhchap_secret', 'Dhchap_Ctrl-Secret'])
    assert.ok(isSecretKey(k), k);
  assert.ok(!isSecretKey('kato'));
  const r = loadServiceConfig(
    'stafd',
    write(
      join(dir, 'spell', 'stafd.conf'),
      `[Controllers]\ncontroller=Transport=tcp;TRADDR=10.0.0.1;DHCHAP-SECRET=AAA;dhchap_ctrl_secret=BBB;Host_Iface=eth0\n`,
    ),
  );
  const tid = TID.fromCid(r.config.controllers[0]!.cid, { ignoreIface: false, hostNqn: 'nqn.h' });
  assert.equal(tid.transport, 'tcp');
  assert.equal(tid.traddr, '10.0.0.1');
  assert.equal(tid.hostIface, 'eth0');
  assert.equal(tid.get('dhchap-secret'), 'AAA');
  assert.equal(tid.get('dhchap-ctrl-secret'), 'BBB');
  const shown = JSON.stringify(tid.idDict('nvme1'));
  assert.ok(!shown.includes('AAA') && !shown.includes('BBB'), shown);
  // a cache written by an older version with another spelling: the key is still recognised as a secret
  const old = TID.fromCid(
    [
      ['transport', 'tcp'],
      ['traddr', '1.1.1.1'],
      ['DHCHAP_SECRET', 'CCC'],
    ],
    { ignoreIface: false, hostNqn: 'nqn.h' },
  );
  assert.ok(!JSON.stringify(old.idDict('')).includes('CCC'));
  assert.equal(
    redactSecrets('a=1;DHCHAP_SECRET = xyz;Dhchap-Ctrl_Secret=abc;b=2'),
    'a=1;DHCHAP_SECRET = <redacted>;Dhchap-Ctrl_Secret=<redacted>;b=2',
  );
  assert.deepEqual(redactObject({ x: { DHCHAP_SECRET: 's' }, cid: [['dhchap_ctrl_secret', 't']] }), {
    x: { DHCHAP_SECRET: '<redacted>' },
    cid: [['dhchap_ctrl_secret', '<redacted>']],
  });
});

test('log lines never carry a secret, whatever its spelling, in the message or in an object', () => {
  const file = join(dir, 'log.json');
  initLog({ name: 'test', destination: file });
  log().info(
    { cfg: { DHCHAP_SECRET: 'SECRET1', 'Dhchap-Ctrl-Secret': 'SECRET2' } },
    'controller=traddr=1.1.1.1;dhchap_secret=SECRET3;DHCHAP-CTRL-SECRET=SECRET4',
  );
  log().warn('token "DHCHAP_SECRET=SECRET5" has no meaning');
  const text = readFileSync(file, 'utf8');
  for (const s of ['SECRET1', 'SECRET2', 'SECRET3', 'SECRET4', 'SECRET5'])
    assert.ok(!text.includes(s), `${s} in ${text}`);
  assert.match(text, /<redacted>/);
});

test('a secret written inline in a world-readable file is a note; mode 0600 is quiet', () => {
  const open = load('stacd', `[Controllers]\ncontroller=${CTRL};dhchap_secret=DHHC-1:00:abc:\n`, 0o644);
  assert.deepEqual(open.errors, []);
  assert.ok(
    open.warnings.some((w) => /:2: .*dhchap-secret is written inline in a world-readable file \(mode 0644\)/.test(w)),
    open.warnings.join('\n'),
  );
  assert.ok(!open.warnings.join('\n').includes('DHHC-1'));
  const closed = load('stacd', `[Controllers]\ncontroller=${CTRL};dhchap_secret=DHHC-1:00:abc:\n`, 0o600);
  assert.deepEqual(closed.warnings, []);
});

test('bounded reads: /dev/zero and an oversized file fail fast with FileTooLargeError', async () => {
  assert.throws(() => readFileBoundedSync('/dev/zero', 4096), FileTooLargeError);
  await assert.rejects(readFileBounded('/dev/zero', 4096), FileTooLargeError);
  const big = write(join(dir, 'big', 'stafd.conf'), `[Global]\n${'#'.repeat(5 * 1024 * 1024)}\n`);
  assert.throws(
    () => loadServiceConfig('stafd', big),
    /Cannot read configuration file .*big\/stafd\.conf: larger than 4194304 bytes/,
  );
  assert.equal(readFileBoundedSync(big, 6 * 1024 * 1024).length, 5 * 1024 * 1024 + 10);
});

test('sys.conf: nqn=garbage, a 304-character NQN, a missing file:// target, nqn=file:///dev/zero are errors naming sys.conf:line', () => {
  const root = join(dir, 'sys');
  const files = {
    hostnqnFile: join(root, 'hostnqn'),
    hostidFile: write(join(root, 'hostid'), 'id-1\n'),
    hostkeyFile: join(root, 'hostkey'),
  };
  const check = (text: string): string[] =>
    checkSysConfig({ ...files, confFile: write(join(root, 'sys.conf'), text) }).errors;
  assert.match(
    check('[Host]\nnqn=garbage\n').join('\n'),
    /sys\.conf:2: \[Host\] nqn: Error Host NQN "garbage" should start with "nqn\."/,
  );
  assert.match(
    check(`[Host]\nnqn=nqn.${'x'.repeat(300)}\n`).join('\n'),
    /sys\.conf:2: \[Host\] nqn: Error Host NQN is too long \(304 chars/,
  );
  assert.match(
    check('[Host]\n\nnqn=file:///nonexistent/hostnqn\n').join('\n'),
    /sys\.conf:3: \[Host\] nqn: Error reading mandatory Host NQN.*No such file/,
  );
  const t0 = Date.now();
  assert.match(
    check('[Host]\nnqn=file:///dev/zero\n').join('\n'),
    /sys\.conf:2: \[Host\] nqn: .*larger than 65536 bytes/,
  );
  assert.ok(Date.now() - t0 < 2000);
  assert.deepEqual(check(`[Host]\nnqn=nqn.2014-08.org.nvmexpress:uuid:x\n`), []);
  // sys.conf that is a directory: an error for --check-config, never an exception
  const d = join(root, 'as-dir');
  mkdirSync(d, { recursive: true });
  assert.match(
    checkSysConfig({ ...files, confFile: d }).errors.join('\n'),
    /Cannot read configuration file .*as-dir: is a directory/,
  );
  assert.throws(() => loadSysConfig(d), /is a directory/);
});
