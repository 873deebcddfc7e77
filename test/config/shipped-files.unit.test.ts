// The commented default files in etc/stas must say the truth: loading them gives the defaults with no warning,
// and uncommenting any option line gives the value it documents (the default, where there is one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  configuredTid,
  describeValue,
  fallbackValue,
  KIND_DEFAULTS,
  loadServiceConfig,
  loadSysConfig,
  OPTION_SPECS,
  ServiceConfig,
  type OptionKey,
} from '../../daemons/config/index.js';
import { repoRoot, tempDir, write } from './helpers.js';

const etc = join(repoRoot(), 'etc', 'stas');

for (const kind of ['stafd', 'stacd'] as const) {
  test(`shipped ${kind}.conf loads to exactly the defaults, with no warning`, () => {
    const path = join(etc, `${kind}.conf`);
    const { config, warnings } = loadServiceConfig(kind, path);
    assert.deepEqual(warnings.map(String), []);
    assert.deepEqual(config.files, [path]);
    const empty = ServiceConfig.fromFiles(kind, '/none', []).config;
    for (const key of Object.keys(OPTION_SPECS) as OptionKey[]) assert.deepEqual(config.get(key), empty.get(key), key);
    assert.deepEqual(config.controllers, []);
    assert.deepEqual(config.excludes, []);
  });

  test(`every commented option line of ${kind}.conf is valid and shows the default when there is one`, () => {
    const text = readFileSync(join(etc, `${kind}.conf`), 'utf8');
    const uncommented = text.replace(/^#([a-z-]+ = .*)$/gm, '$1');
    assert.notEqual(uncommented, text);
    const path = write(join(tempDir(), `${kind}.conf`), uncommented);
    const { config, warnings } = loadServiceConfig(kind, path);
    assert.deepEqual(warnings.map(String), []);
    for (const key of Object.keys(KIND_DEFAULTS[kind]) as OptionKey[]) {
      const dflt = fallbackValue(kind, key);
      if (dflt !== null)
        assert.equal(describeValue(config.get(key)), describeValue(dflt), `${key} documents its default`);
      else assert.notEqual(config.get(key), null, `${key} example is a valid value`);
    }
    // every documented option appears in the file
    for (const key of Object.keys(KIND_DEFAULTS[kind]) as OptionKey[]) {
      assert.match(text, new RegExp(`^#${OPTION_SPECS[key].name} = `, 'm'), `${key} is documented`);
    }
    assert.ok(config.controllers.length >= 2);
    for (const c of config.controllers)
      assert.ok('tid' in configuredTid(kind, c, { ignoreIface: false, hostNqn: 'nqn.h' }));
    assert.ok(config.excludes.length >= 2);
  });
}

test('documentation defects of nvme-stas are not repeated', () => {
  const stafd = readFileSync(join(etc, 'stafd.conf'), 'utf8');
  const stacd = readFileSync(join(etc, 'stacd.conf'), 'utf8');
  assert.match(stafd, /^#persistent-connections = true$/m);
  assert.match(stafd, /^#zeroconf = enabled$/m);
  assert.doesNotMatch(stacd, /^#kato = 120/m);
  for (const t of [stafd, stacd]) {
    assert.doesNotMatch(t, /--idl/);
    assert.doesNotMatch(t, /^#(controller|exclude) = .*,/m, 'no comma-separated fields');
    assert.doesNotMatch(t, /^#exclude = .*#/m, 'no inline comments in examples');
  }
});

test('shipped sys.conf.doc: no value set, no warning', () => {
  const { config, warnings } = loadSysConfig(join(etc, 'sys.conf.doc'), { hostnqnFile: '/nonexistent' });
  assert.deepEqual(warnings, []);
  for (const k of ['nqn', 'id', 'key', 'symname']) assert.equal(config.raw(k), undefined);
  const un = readFileSync(join(etc, 'sys.conf.doc'), 'utf8').replace(/^#((?:nqn|id|key|symname) = .*)$/gm, '$1');
  const p = write(join(tempDir(), 'sys.conf'), un);
  const r = loadSysConfig(p);
  assert.equal(r.config.raw('nqn'), 'file:///etc/nvme/hostnqn');
  assert.equal(r.config.raw('symname'), 'my-host');
});
