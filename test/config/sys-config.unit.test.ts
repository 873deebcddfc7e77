import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, HostIdentityError, loadSysConfig, SysConfig } from '../../daemons/config/index.js';
import { tempDir, write } from './helpers.js';

const NQN = 'nqn.2014-08.org.nvmexpress:uuid:d4e8c226-89af-491a-9eb4-6574bfea5b17';
const ID = 'b4a9732d-1584-4032-8962-6446c3f900fc';

/** A fake /etc with sys.conf text and the /etc/nvme/host* files given. */
function etc(sysconf: string | null, nvme: { hostnqn?: string; hostid?: string; hostkey?: string } = {}) {
  const root = tempDir('stas-etc-');
  if (sysconf !== null) write(join(root, 'stas', 'sys.conf'), sysconf);
  for (const [k, v] of Object.entries(nvme)) write(join(root, 'nvme', k), v);
  return root;
}
function load(root: string, warnings?: string[]) {
  return SysConfig.load({
    confFile: join(root, 'stas', 'sys.conf'),
    hostnqnFile: join(root, 'nvme', 'hostnqn'),
    hostidFile: join(root, 'nvme', 'hostid'),
    hostkeyFile: join(root, 'nvme', 'hostkey'),
    onWarning: (m) => warnings?.push(m),
  }).config;
}

test('defaults come from /etc/nvme/hostnqn, hostid, hostkey (first token of the first line)', () => {
  const root = etc(null, {
    hostnqn: `${NQN}\n`,
    hostid: `  ${ID} trailing words\nsecond line\n`,
    hostkey: 'DHHC-1:00:abc:\n',
  });
  const s = load(root);
  assert.equal(s.hostnqn, NQN);
  assert.equal(s.hostid, ID);
  assert.equal(s.hostkey, 'DHHC-1:00:abc:');
  assert.equal(s.symname, null);
});

test('[Host] values and file:// indirection, re-read on each access', () => {
  const root = etc('');
  const nqnFile = write(join(root, 'elsewhere', 'nqn'), 'nqn.2014-08.org.nvmexpress:uuid:first\n');
  write(
    join(root, 'stas', 'sys.conf'),
    `[Host]\nnqn = file://${nqnFile}\nid = ${ID}\nsymname = my host\nkey = DHHC-1:01:k:\n`,
  );
  const s = load(root);
  assert.equal(s.hostnqn, 'nqn.2014-08.org.nvmexpress:uuid:first');
  writeFileSync(nqnFile, 'nqn.2014-08.org.nvmexpress:uuid:second\n');
  assert.equal(s.hostnqn, 'nqn.2014-08.org.nvmexpress:uuid:second');
  assert.equal(s.hostid, ID);
  assert.equal(s.symname, 'my host');
  assert.equal(s.hostkey, 'DHHC-1:01:k:');
});

test('duplicate keys: last wins; no validation of unknown keys', () => {
  const s = load(etc(`[Host]\nnqn = nqn.a\nfoo = bar\n[Other]\n[Host]\nnqn = nqn.b\n`));
  assert.equal(s.hostnqn, 'nqn.b');
});

test('mandatory host NQN: exact error texts', () => {
  const root = etc(null);
  assert.throws(
    () => load(root).hostnqn,
    (e: unknown) => {
      assert.ok(e instanceof HostIdentityError);
      assert.equal(
        e.message,
        `Error reading mandatory Host NQN (see stasadm --help): [Errno 2] No such file or directory: '${join(root, 'nvme', 'hostnqn')}'`,
      );
      return true;
    },
  );
  assert.throws(() => load(etc('[Host]\nnqn = file:///nonexistent/x\n')).hostnqn, {
    message:
      "Error reading mandatory Host NQN (see stasadm --help): [Errno 2] No such file or directory: '/nonexistent/x'",
  });
  assert.throws(() => load(etc('[Host]\nnqn = iqn.bad\n')).hostnqn, {
    message: 'Error Host NQN "iqn.bad" should start with "nqn."',
  });
  const long = `nqn.${'x'.repeat(220)}`;
  assert.throws(() => load(etc(`[Host]\nnqn = ${long}\n`)).hostnqn, {
    message: 'Error Host NQN is too long (224 chars, max 223 per NVMe spec)',
  });
  assert.equal(load(etc(`[Host]\nnqn = nqn.${'x'.repeat(219)}\n`)).hostnqn.length, 223);
  const empty = etc(null, { hostnqn: '\n' });
  assert.throws(() => load(empty).hostnqn, {
    message: `Error reading mandatory Host NQN (see stasadm --help): '${join(empty, 'nvme', 'hostnqn')}' is empty`,
  });
});

test('mandatory host ID; optional key (missing = null) and symname (missing file = warning, null)', () => {
  const root = etc(null);
  assert.throws(() => load(root).hostid, {
    message: `Error reading mandatory Host ID (see stasadm --help): [Errno 2] No such file or directory: '${join(root, 'nvme', 'hostid')}'`,
  });
  const warnings: string[] = [];
  const s = load(etc('[Host]\nsymname = file:///nonexistent/sym\n'), warnings);
  assert.equal(s.hostkey, null);
  assert.equal(s.symname, null);
  assert.deepEqual(warnings, [
    "Error reading host symbolic name (will remain undefined): [Errno 2] No such file or directory: '/nonexistent/sym'",
  ]);
});

test('sys.conf: missing = defaults, unreadable = ConfigError, bare key = warning', () => {
  const root = etc(null, { hostnqn: NQN });
  assert.equal(load(root).hostnqn, NQN);
  mkdirSync(join(root, 'stas', 'sys.conf'), { recursive: true });
  assert.throws(
    () => load(root),
    (e: unknown) => e instanceof ConfigError && e.code === 'EISDIR',
  );
  rmSync(join(root, 'stas', 'sys.conf'), { recursive: true });
  write(join(root, 'stas', 'sys.conf'), '[Host]\nnqn\n');
  const r = loadSysConfig(join(root, 'stas', 'sys.conf'), { hostnqnFile: join(root, 'nvme', 'hostnqn') });
  assert.equal(r.config.hostnqn, NQN, 'bare key treated as absent');
  assert.equal(r.warnings.length, 1);
  assert.match(String(r.warnings[0]), /sys\.conf:2: \[Host\] "nqn" has no "=" and no value; ignored$/);
});

test('STAS_ETC replaces /etc for every default path', () => {
  const root = etc(`[Host]\nid = ${ID}\n`, { hostnqn: NQN });
  const saved = process.env.STAS_ETC;
  process.env.STAS_ETC = root;
  try {
    const { config } = loadSysConfig();
    assert.equal(config.files.confFile, join(root, 'stas', 'sys.conf'));
    assert.equal(config.hostnqn, NQN);
    assert.equal(config.hostid, ID);
  } finally {
    if (saved === undefined) delete process.env.STAS_ETC;
    else process.env.STAS_ETC = saved;
  }
});
