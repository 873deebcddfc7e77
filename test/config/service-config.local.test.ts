import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ConfigError, loadServiceConfig, ServiceConfig, type ServiceKind } from '../../daemons/config/index.js';
import { tempDir, write } from './helpers.js';

const dir = tempDir();
let n = 0;
/** Loads `text` as a daemon configuration file in a fresh folder. */
function load(kind: ServiceKind, text: string) {
  const path = write(join(dir, `c${n++}`, `${kind}.conf`), text);
  const r = loadServiceConfig(kind, path);
  return { ...r, path, msgs: r.warnings.map(String) };
}

test('missing file: every default, no warning (stafd)', () => {
  const { config, warnings } = loadServiceConfig('stafd', join(dir, 'nope', 'stafd.conf'));
  assert.equal(warnings.length, 0);
  assert.equal(config.tron, false);
  assert.equal(config.hdrDigest, false);
  assert.equal(config.dataDigest, false);
  assert.equal(config.kato, 30);
  assert.equal(config.queueSize, null);
  assert.equal(config.nrIoQueues, null);
  assert.equal(config.reconnectDelay, null);
  assert.equal(config.ctrlLossTmo, null);
  assert.equal(config.disableSqflow, null);
  assert.equal(config.ignoreIface, false);
  assert.deepEqual(config.ipFamily, [4, 6]);
  assert.equal(config.pleo, true);
  assert.equal(config.zeroconf, true);
  assert.deepEqual(config.stypes, ['_nvme-disc._tcp', '_nvme-disc._udp']);
  assert.equal(config.persistentConnections, true);
  assert.deepEqual(config.zeroconfPersistence, { seconds: 259200, isFloat: false });
  assert.deepEqual(config.controllers, []);
  assert.deepEqual(config.excludes, []);
  assert.deepEqual(config.files, []);
  assert.deepEqual(
    config.connectParams().map((p) => [p.kernel, p.value]),
    [
      ['hdr_digest', false],
      ['data_digest', false],
      ['keep_alive_tmo', 30],
    ],
  );
});

test('missing file: every default, no warning (stacd)', () => {
  const { config, warnings } = loadServiceConfig('stacd', join(dir, 'nope', 'stacd.conf'));
  assert.equal(warnings.length, 0);
  assert.equal(config.kato, null, 'stacd sends no kato (docs claiming 120 are wrong)');
  assert.equal(config.disconnectScope, 'only-stas-connections');
  assert.deepEqual(config.disconnectTrtypes, ['tcp']);
  assert.equal(config.connectAttemptsOnNcc, 0);
  assert.deepEqual(
    config.connectParams().map((p) => p.kernel),
    ['hdr_digest', 'data_digest'],
  );
});

test('every option with valid values', () => {
  const { config, warnings } = load(
    'stacd',
    `[Global]
tron = TRUE
hdr-digest = true
data-digest = True
kato = 17
queue-size = 1024
nr-io-queues = 4
nr-write-queues = 2
nr-poll-queues = 1
reconnect-delay = 5
ctrl-loss-tmo = -1
disable-sqflow = false
ignore-iface = true
ip-family = ipv6+ipv4
[I/O controller connection management]
disconnect-scope = all-connections-matching-disconnect-trtypes
disconnect-trtypes = tcp+rdma+tcp+fc
connect-attempts-on-ncc = 5
`,
  );
  assert.deepEqual(warnings, []);
  assert.equal(config.tron, true);
  assert.equal(config.hdrDigest, true);
  assert.equal(config.dataDigest, true);
  assert.equal(config.kato, 17);
  assert.equal(config.queueSize, 1024);
  assert.equal(config.nrIoQueues, 4);
  assert.equal(config.nrWriteQueues, 2);
  assert.equal(config.nrPollQueues, 1);
  assert.equal(config.reconnectDelay, 5);
  assert.equal(config.ctrlLossTmo, -1);
  assert.equal(config.disableSqflow, false);
  assert.equal(config.ignoreIface, true);
  assert.deepEqual(config.ipFamily, [6, 4]);
  assert.equal(config.disconnectScope, 'all-connections-matching-disconnect-trtypes');
  assert.deepEqual(config.disconnectTrtypes, ['tcp', 'rdma', 'fc']);
  assert.equal(config.connectAttemptsOnNcc, 5);
  assert.deepEqual(
    config.connectParams().map((p) => `${p.kernel}=${p.value}`),
    [
      'hdr_digest=true',
      'data_digest=true',
      'nr_io_queues=4',
      'nr_write_queues=2',
      'nr_poll_queues=1',
      'queue_size=1024',
      'keep_alive_tmo=17',
      'reconnect_delay=5',
      'ctrl_loss_tmo=-1',
      'disable_sqflow=false',
    ],
  );
});

test('stafd-only options: pleo/zeroconf enabled/disabled (case-insensitive), persistence time spans', () => {
  const { config, warnings } = load(
    'stafd',
    '[Global]\npleo = Disabled\n[Service Discovery]\nzeroconf = DISABLED\n[Discovery controller connection management]\npersistent-connections = false\nzeroconf-connections-persistence = 3 days 5 hours\n',
  );
  assert.deepEqual(warnings, []);
  assert.equal(config.pleo, false);
  assert.equal(config.zeroconf, false);
  assert.deepEqual(config.stypes, []);
  assert.equal(config.persistentConnections, false);
  assert.equal(config.zeroconfPersistenceSec, 277200);
  assert.deepEqual(
    load('stafd', '[Discovery controller connection management]\nzeroconf-connections-persistence=-1\n').config
      .zeroconfPersistence,
    { seconds: -1, isFloat: true },
  );
});

test('scalars: the last occurrence wins (also across duplicate sections)', () => {
  const { config } = load('stafd', '[Global]\nkato = 1\nKATO = 2\n[Controllers]\n[Global]\nkato = 3\n');
  assert.equal(config.kato, 3);
  assert.equal(config.source('Global/kato')?.line, 6);
  assert.equal(config.source('Global/tron'), undefined);
});

test('invalid values fall back to the daemon default with a warning naming file:line, option and value used', () => {
  const r = load(
    'stafd',
    `[Global]
tron = yes
kato = abc
queue-size = 8
ip-family = IPv4
hdr-digest =
[Discovery controller connection management]
zeroconf-connections-persistence = 1 week
persistent-connections = 1
`,
  );
  const p = r.path;
  assert.deepEqual(r.msgs, [
    `${p}:2: [Global] tron: "yes" is not one of false, true; using default (false)`,
    `${p}:3: [Global] kato: "abc" is not an integer; using default (30)`,
    `${p}:4: [Global] queue-size: "8" is not within range 16..1024; using default (none)`,
    `${p}:5: [Global] ip-family: "IPv4" is not one of ipv4, ipv6, ipv4+ipv6, ipv6+ipv4; using default (ipv4+ipv6)`,
    `${p}:6: [Global] hdr-digest: "" is not one of false, true; using default (false)`,
    `${p}:8: [Discovery controller connection management] zeroconf-connections-persistence: "1 week" is not a time span (e.g. 72hours, 3 days 5 hours, 1:30:00, -1 for forever); using default (259200 seconds)`,
    `${p}:9: [Discovery controller connection management] persistent-connections: "1" is not one of false, true; using default (true)`,
  ]);
  assert.equal(r.config.tron, false);
  assert.equal(r.config.kato, 30);
  assert.equal(r.config.queueSize, null);
  assert.deepEqual(r.config.ipFamily, [4, 6]);
  assert.equal(r.config.zeroconfPersistenceSec, 259200);
  assert.equal(r.config.persistentConnections, true);
  assert.equal(load('stacd', '[Global]\nkato = abc\n').config.kato, null, 'stacd default is none');
  assert.equal(load('stafd', '[Global]\nqueue-size = 16\n').config.queueSize, 16);
  assert.equal(load('stafd', '[Global]\nqueue-size = 1025\n').config.queueSize, null);
  assert.equal(load('stafd', '[Global]\nkato = +1_0\n').config.kato, 10, 'Python int() syntax');
});

test('stacd I/O options: scope case-sensitive, trtypes list check, connect-attempts-on-ncc quirks', () => {
  const r = load(
    'stacd',
    '[I/O controller connection management]\ndisconnect-scope = No-Disconnect\ndisconnect-trtypes = tcp+ rdma+fc\n',
  );
  assert.equal(r.config.disconnectScope, 'only-stas-connections');
  assert.deepEqual(r.config.disconnectTrtypes, ['tcp', 'fc']);
  assert.match(
    r.msgs[1],
    /:3: \[I\/O controller connection management\] disconnect-trtypes: invalid item " rdma" ignored/,
  );
  const none = load('stacd', '[I/O controller connection management]\ndisconnect-trtypes = pcie+loop\n');
  assert.deepEqual(none.config.disconnectTrtypes, ['tcp']);
  assert.match(none.msgs[2], /no valid item in "pcie\+loop"; using default \(tcp\)$/);
  const ncc = (v: string) =>
    load('stacd', `[I/O controller connection management]\nconnect-attempts-on-ncc = ${v}\n`).config
      .connectAttemptsOnNcc;
  assert.equal(ncc('1'), 2);
  assert.equal(ncc('0'), 0);
  assert.equal(ncc('-3'), -3);
  assert.equal(ncc('two'), 0);
});

test('unknown sections and options: one warning each at their first occurrence; values still read', () => {
  const r = load(
    'stafd',
    '[global]\ntron = true\n[Global]\nnr-io-queues = 4\nnr-io-queues = 5\npersistent-connections = true\nfoo = 1\n[Controllers]\nblacklist = traddr=1.1.1.1\n[global]\nx = 2\n',
  );
  const p = r.path;
  assert.deepEqual(r.msgs, [
    `${p}:1: unknown section [global] for stafd (section names are case-sensitive: did you mean [Global]?); its options are not used`,
    `${p}:4: [Global] nr-io-queues: unknown option for stafd; flagged as nvme-stas does, its value is still read`,
    `${p}:6: [Global] persistent-connections: unknown option for stafd (legacy option (nvme-stas 2.1-2.4); use [Discovery controller connection management] persistent-connections)`,
    `${p}:7: [Global] foo: unknown option for stafd`,
    `${p}:9: [Controllers] blacklist: unknown option for stafd (legacy option (nvme-stas <= 1.1); use exclude=)`,
  ]);
  assert.equal(r.config.tron, false, '[global] is not [Global]');
  assert.equal(r.config.nrIoQueues, 5);
  assert.ok(
    r.config.connectParams().some((c) => c.kernel === 'nr_io_queues' && c.value === 5),
    'flagged yet applied to DC connections',
  );
  assert.deepEqual(r.config.excludes, []);
  const s = load('stacd', '[Service Discovery]\nzeroconf = enabled\n[Global]\npleo = disabled\n');
  assert.deepEqual(
    s.msgs.map((m) => m.replace(s.path, 'F')),
    [
      'F:1: unknown section [Service Discovery] for stacd; its options are not used',
      'F:4: [Global] pleo: unknown option for stacd; flagged as nvme-stas does, its value is still read',
    ],
  );
});

test('a bare key does not crash: warning and ignored, the other values are used', () => {
  const r = load('stafd', '[Global]\ntron\nkato = 9\n');
  assert.equal(r.config.tron, false);
  assert.equal(r.config.kato, 9);
  assert.deepEqual(r.msgs, [`${r.path}:2: [Global] "tron" has no "=" and no value; ignored`]);
});

test('controller= and exclude= keep every occurrence; continuation lines are more entries; no inline comments', () => {
  const r = load(
    'stafd',
    '[Controllers]\ncontroller = transport=tcp;traddr=1.1.1.1\nController = transport=tcp;traddr=2.2.2.2\n    transport=tcp;traddr=3.3.3.3\nexclude = host-iface=enp0s8   # Eliminate everything on this interface\n',
  );
  assert.deepEqual(
    r.config.controllers.map((c) => c.cid),
    [
      [
        ['transport', 'tcp'],
        ['traddr', '1.1.1.1'],
      ],
      [
        ['transport', 'tcp'],
        ['traddr', '2.2.2.2'],
      ],
      [
        ['transport', 'tcp'],
        ['traddr', '3.3.3.3'],
      ],
    ],
  );
  assert.deepEqual(
    r.config.controllers.map((c) => c.ref.line),
    [2, 3, 4],
  );
  assert.deepEqual(r.config.excludes, [[['host-iface', 'enp0s8   # Eliminate everything on this interface']]]);
});

test('drop-ins: <conf>.d/*.conf in lexical order after the main file', () => {
  const d = join(dir, 'dropins');
  const main = write(
    join(d, 'stafd.conf'),
    '[Global]\nkato = 1\ntron = true\n[Controllers]\ncontroller = transport=tcp;traddr=1.1.1.1\n',
  );
  write(
    join(d, 'stafd.conf.d', '20-b.conf'),
    '[Global]\nkato = 3\n[Controllers]\ncontroller = transport=tcp;traddr=3.3.3.3\nexclude = traddr=9.9.9.9\n',
  );
  write(
    join(d, 'stafd.conf.d', '10-a.conf'),
    '[Global]\nkato = 2\nbogus = 1\n[Controllers]\ncontroller = transport=tcp;traddr=2.2.2.2\n',
  );
  write(join(d, 'stafd.conf.d', '30-c.conf.disabled'), '[Global]\nkato = 99\n');
  write(join(d, 'stafd.conf.d', 'README'), 'not ini at all');
  const { config, warnings } = loadServiceConfig('stafd', main);
  assert.deepEqual(config.files, [main, join(d, 'stafd.conf.d', '10-a.conf'), join(d, 'stafd.conf.d', '20-b.conf')]);
  assert.equal(config.kato, 3);
  assert.equal(config.tron, true);
  assert.deepEqual(
    config.controllers.map((c) => c.cid[1][1]),
    ['1.1.1.1', '2.2.2.2', '3.3.3.3'],
  );
  assert.deepEqual(config.excludes, [[['traddr', '9.9.9.9']]]);
  assert.equal(config.source('Global/kato')?.file, join(d, 'stafd.conf.d', '20-b.conf'));
  assert.deepEqual(warnings.map(String), [
    `${join(d, 'stafd.conf.d', '10-a.conf')}:3: [Global] bogus: unknown option for stafd`,
  ]);
  // drop-ins apply even without a main file
  const d2 = join(dir, 'dropins-only');
  write(join(d2, 'stacd.conf.d', 'a.conf'), '[Global]\nkato = 7\n');
  assert.equal(loadServiceConfig('stacd', join(d2, 'stacd.conf')).config.kato, 7);
});

test('a file that cannot be read is a ConfigError naming path and reason', () => {
  const d = join(dir, 'unreadable');
  mkdirSync(join(d, 'stafd.conf'), { recursive: true });
  assert.throws(
    () => loadServiceConfig('stafd', join(d, 'stafd.conf')),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.path, join(d, 'stafd.conf'));
      assert.equal(e.code, 'EISDIR');
      assert.equal(e.message, `Cannot read configuration file ${join(d, 'stafd.conf')}: is a directory`);
      return true;
    },
  );
  const d2 = join(dir, 'unreadable-dropin');
  write(join(d2, 'stacd.conf'), '[Global]\n');
  mkdirSync(join(d2, 'stacd.conf.d', '50-dir.conf'), { recursive: true });
  assert.throws(() => loadServiceConfig('stacd', join(d2, 'stacd.conf')), /50-dir\.conf: is a directory/);
  const d3 = join(dir, 'dropin-not-dir');
  write(join(d3, 'stacd.conf'), '[Global]\n');
  write(join(d3, 'stacd.conf.d'), 'a file');
  assert.throws(() => loadServiceConfig('stacd', join(d3, 'stacd.conf')), /stacd\.conf\.d: not a directory/);
});

test('permission denied is a ConfigError (checked as an unprivileged user)', () => {
  const d = join(dir, 'eacces');
  mkdirSync(d, { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(d, 0o755);
  const p = write(join(d, 'stafd.conf'), '[Global]\ntron=true\n');
  chmodSync(p, 0o000);
  const self = fileURLToPath(import.meta.url);
  const mod = new URL(
    self.endsWith('.ts') ? '../../daemons/config/index.ts' : '../../daemons/config/index.js',
    import.meta.url,
  ).href;
  const script = `import(${JSON.stringify(mod)}).then((m) => { try { m.loadServiceConfig('stafd', ${JSON.stringify(p)}); console.log('loaded'); } catch (e) { console.log(e.name + '|' + e.code + '|' + e.message); } });`;
  const args = [...(self.endsWith('.ts') ? ['--import', 'tsx'] : []), '-e', script];
  const asRoot = process.getuid?.() === 0;
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    timeout: 20000,
    cwd: process.cwd(),
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `ConfigError|EACCES|Cannot read configuration file ${p}: permission denied`);
});

test('fromFiles: the same parser on text already read (daemon async reload path)', () => {
  const { config } = ServiceConfig.fromFiles('stafd', '/x/stafd.conf', [
    { path: '/x/stafd.conf', text: '[Global]\nkato=4\n' },
  ]);
  assert.equal(config.kato, 4);
});
