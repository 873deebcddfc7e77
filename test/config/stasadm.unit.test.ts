import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import {
  clearHostOption,
  editHostOption,
  generateHostId,
  hostNqnUuid,
  loadSysConfig,
  machineAppSpecificUuid,
  RootRequiredError,
  saveHostOption,
} from '../../daemons/config/index.js';
import { register } from '../../ctl/stasadm/host.js';
import { tempDir, write } from './helpers.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('machine-id derivation: test vector', () => {
  assert.equal(machineAppSpecificUuid('0123456789abcdef0123456789abcdef'), 'f2782346-4809-484a-9a8b-952a04b57ba4');
  assert.equal(machineAppSpecificUuid('0123456789abcdef0123456789abcdef\n'), 'f2782346-4809-484a-9a8b-952a04b57ba4');
});

test('UUID sources in order: machine-id, then (root only) DMI byte-swapped, device-tree, random', () => {
  const d = tempDir();
  const mid = write(join(d, 'machine-id'), '0123456789abcdef0123456789abcdef\n');
  const dmi = write(join(d, 'product_uuid'), '33221100-5544-7766-8899-aabbccddeeff\n');
  const dt = write(join(d, 'partition-uuid'), '12345678-1234-4234-8234-123456789abc\0');
  const none = join(d, 'none');
  assert.equal(hostNqnUuid({ machineIdPath: mid, euid: 1000 }), 'f2782346-4809-484a-9a8b-952a04b57ba4');
  assert.equal(
    hostNqnUuid({ machineIdPath: none, dmiProductUuidPath: dmi, euid: 0 }),
    '00112233-4455-6677-8899-aabbccddeeff',
  );
  assert.equal(
    hostNqnUuid({ machineIdPath: none, dmiProductUuidPath: none, deviceTreeUuidPath: dt, euid: 0 }),
    '12345678-1234-4234-8234-123456789abc',
  );
  const r = hostNqnUuid({ machineIdPath: none, dmiProductUuidPath: none, deviceTreeUuidPath: none, euid: 0 });
  assert.match(r, UUID_RE);
  assert.throws(
    () => hostNqnUuid({ machineIdPath: none, euid: 1000 }),
    (e: unknown) => e instanceof RootRequiredError && e.message === 'Permission denied. Root privileges required.',
  );
  assert.match(
    hostNqnUuid({
      machineIdPath: write(join(d, 'short'), 'abc\n'),
      dmiProductUuidPath: none,
      deviceTreeUuidPath: none,
      euid: 0,
    }),
    UUID_RE,
  );
  assert.match(generateHostId(), UUID_RE);
  assert.notEqual(generateHostId(), generateHostId());
});

test('save semantics: key = value into [Host] (created if missing), or FILE + key = file://FILE', () => {
  const d = tempDir();
  const conf = join(d, 'stas', 'sys.conf');
  saveHostOption(conf, 'nqn', 'nqn.2014-08.org.nvmexpress:uuid:x');
  assert.equal(
    readFileSync(conf, 'utf8'),
    '[Host]\nnqn = nqn.2014-08.org.nvmexpress:uuid:x\n\n',
    'same bytes as configparser for a new file',
  );
  const idFile = join(d, 'nvme', 'hostid');
  saveHostOption(conf, 'id', 'b4a9732d-1584-4032-8962-6446c3f900fc', idFile);
  assert.equal(readFileSync(idFile, 'utf8'), 'b4a9732d-1584-4032-8962-6446c3f900fc\n');
  assert.equal(
    readFileSync(conf, 'utf8'),
    `[Host]\nnqn = nqn.2014-08.org.nvmexpress:uuid:x\nid = file://${idFile}\n\n`,
  );
  const { config } = loadSysConfig(conf);
  assert.equal(config.hostid, 'b4a9732d-1584-4032-8962-6446c3f900fc');
  saveHostOption(conf, 'symname', 'a b');
  clearHostOption(conf, 'symname');
  assert.equal(
    readFileSync(conf, 'utf8'),
    `[Host]\nnqn = nqn.2014-08.org.nvmexpress:uuid:x\nid = file://${idFile}\n\n`,
  );
  assert.deepEqual(readdirSync(join(d, 'stas')), ['sys.conf'], 'no temporary file left behind');
});

test('rewriting keeps comments, other sections and layout (improvement over nvme-stas); one occurrence remains', () => {
  const before = `# sys.conf, edited by hand\n[Host]\n# the NQN\nNQN = nqn.old\n    continued\nid = x\n\n; keep me\n[Other]\nk = v\n[Host]\nnqn = nqn.older\nkey = secret\n`;
  assert.equal(
    editHostOption(before, 'nqn', 'nqn.new'),
    `# sys.conf, edited by hand\n[Host]\n# the NQN\nid = x\n\n; keep me\n[Other]\nk = v\n[Host]\nnqn = nqn.new\nkey = secret\n`,
  );
  assert.equal(
    editHostOption('# only a comment\n[Other]\nx = 1\n', 'symname', 's'),
    '# only a comment\n[Other]\nx = 1\n\n[Host]\nsymname = s\n\n',
  );
  assert.equal(
    editHostOption('[Host]\n# c\nnqn = a\n\n# tail\n', 'id', 'i'),
    '[Host]\n# c\nnqn = a\nid = i\n\n# tail\n',
  );
  assert.equal(editHostOption('[Host]\nsymname = a\n# c\n', 'symname', null), '[Host]\n# c\n');
  assert.throws(() => editHostOption('', 'symname', 'a\nb'), /single line/);
});

test('file mode is kept across an atomic rewrite', () => {
  const d = tempDir();
  const conf = write(join(d, 'sys.conf'), '[Host]\n');
  chmodSync(conf, 0o600);
  saveHostOption(conf, 'key', 'DHHC-1:00:x:');
  assert.equal(statSync(conf).mode & 0o777, 0o600);
  assert.equal(readFileSync(conf, 'utf8'), '[Host]\nkey = DHHC-1:00:x:\n');
});

async function stasadm(args: string[]): Promise<void> {
  const program = new Command('stasadm').exitOverride();
  register(program);
  await program.parseAsync(['node', 'stasadm', ...args]);
}

test('stasadm host sub-commands (commander wiring): hostnqn, hostid -f, set-symname -f, clear-symname', async () => {
  const d = tempDir();
  const conf = join(d, 'sys.conf');
  const saved = process.env.STAS_ETC;
  process.env.STAS_ETC = d;
  write(join(d, 'machine-id'), '0123456789abcdef0123456789abcdef\n');
  try {
    await stasadm(['-c', conf, 'hostnqn']);
    assert.equal(
      readFileSync(conf, 'utf8'),
      '[Host]\nnqn = nqn.2014-08.org.nvmexpress:uuid:f2782346-4809-484a-9a8b-952a04b57ba4\n\n',
    );
    const nqnFile = join(d, 'nvme', 'hostnqn');
    await stasadm(['--conf-file', conf, 'hostnqn', '-f', nqnFile]);
    assert.equal(
      readFileSync(nqnFile, 'utf8'),
      'nqn.2014-08.org.nvmexpress:uuid:f2782346-4809-484a-9a8b-952a04b57ba4\n',
    );
    await stasadm(['-c', conf, 'hostid', '--file', join(d, 'nvme', 'hostid')]);
    assert.match(readFileSync(join(d, 'nvme', 'hostid'), 'utf8'), /^[0-9a-f-]{36}\n$/);
    await stasadm(['-c', conf, 'set-symname', '-f', join(d, 'sym'), 'rack 12 host']);
    assert.equal(readFileSync(join(d, 'sym'), 'utf8'), 'rack 12 host\n');
    const { config } = loadSysConfig(conf);
    assert.equal(config.hostnqn, 'nqn.2014-08.org.nvmexpress:uuid:f2782346-4809-484a-9a8b-952a04b57ba4');
    assert.equal(config.symname, 'rack', 'file:// values are the first token of the first line, as nvme-stas');
    await stasadm(['-c', conf, 'clear-symname']);
    assert.equal(
      readFileSync(conf, 'utf8'),
      `[Host]\nnqn = file://${nqnFile}\nid = file://${join(d, 'nvme', 'hostid')}\n\n`,
    );
    // default conf file: $STAS_ETC/stas/sys.conf
    await stasadm(['set-symname', 'x']);
    assert.equal(readFileSync(join(d, 'stas', 'sys.conf'), 'utf8'), '[Host]\nsymname = x\n\n');
  } finally {
    if (saved === undefined) delete process.env.STAS_ETC;
    else process.env.STAS_ETC = saved;
  }
});
