// [Volumes] / [Volumes <pool>] sections of stacd.conf: defaults, several pools, errors naming file:line and key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIni } from '../../daemons/config/ini.js';
import { parseVolumesConfig, backendsFor, defaultQcow2Root } from '../../daemons/volumes/config.js';

test('volumes config: defaults, qcow2 and rbd pools', () => {
  assert.deepEqual(parseVolumesConfig(parseIni('[Global]\ntron=true\n', 'stacd.conf')), {
    pools: [{ name: 'default', backend: 'qcow2', root: defaultQcow2Root() }],
    maxJobs: 4,
  });
  const cfg = parseVolumesConfig(
    parseIni(
      '[Volumes fast]\nbackend=rbd\npool=ssd\nid=stas\nconf=/etc/ceph/ceph.conf\n\n[Volumes]\nbackend=qcow2\nroot=/srv/vols\nmax-jobs=2\n',
      'stacd.conf',
    ),
  );
  assert.deepEqual(cfg, {
    pools: [
      { name: 'default', backend: 'qcow2', root: '/srv/vols' },
      { name: 'fast', backend: 'rbd', cephPool: 'ssd', id: 'stas', conf: '/etc/ceph/ceph.conf' },
    ],
    maxJobs: 2,
  });
  const backends = backendsFor(cfg);
  assert.deepEqual(
    backends.map((b) => [b.pool, b.kind, b.location]),
    [
      ['default', 'qcow2', '/srv/vols'],
      ['fast', 'rbd', 'ceph pool ssd'],
    ],
  );
  assert.equal(parseVolumesConfig(parseIni('[Volumes]\nbackend=rbd\n', 'x')).pools[0].backend, 'rbd');
});

test('volumes config: the simulated engine takes no location', () => {
  const cfg = parseVolumesConfig(parseIni('[Volumes]\nbackend=sim\n', 'stacd.conf'));
  assert.deepEqual(cfg.pools, [{ name: 'default', backend: 'sim' }]);
  assert.deepEqual(
    backendsFor(cfg).map((b) => [b.pool, b.kind, b.location]),
    [['default', 'sim', 'memory']],
  );
  assert.throws(
    () => parseVolumesConfig(parseIni('[Volumes]\nbackend=sim\nroot=/x\n', 'stacd.conf')),
    /stacd\.conf:3: \[Volumes\] root: unknown key for backend sim/,
  );
});

test('volumes config: errors name file, line and key', () => {
  const bad: [string, RegExp][] = [
    ['[Volumes]\nbackend=zfs\n', /^stacd\.conf:2: \[Volumes\] backend: "zfs" is not a backend/],
    ['[Volumes]\nroot=relative/path\n', /^stacd\.conf:2: \[Volumes\] root: .*absolute/],
    ['[Volumes]\nbackend=qcow2\npool=x\n', /^stacd\.conf:3: \[Volumes\] pool: unknown key for backend qcow2/],
    ['[Volumes]\nmax-jobs=0\n', /^stacd\.conf:2: \[Volumes\] max-jobs/],
    ['[Volumes ../x]\n', /^stacd\.conf:1: \[Volumes \.\.\/x\]/],
    ['[Volumes a]\nroot=/a\n[Volumes b]\nroot=/a\n', /share root \/a/],
    ['[Volumes c]\nbackend=rbd\nconf=ceph.conf\n', /^stacd\.conf:3: \[Volumes c\] conf: .*absolute/],
  ];
  for (const [text, re] of bad)
    assert.throws(
      () => parseVolumesConfig(parseIni(text, 'stacd.conf')),
      (e: Error) => re.test(e.message),
      text,
    );
});
