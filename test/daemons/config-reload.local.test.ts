// Issue #17 defects 2, 6 and 7 against the real stafd (userspace driver) and the in-process fake target on a
// private bus: a reload refuses a file with errors and keeps the running configuration; a restart with a broken
// file uses the last accepted one; secrets in other spellings never leave the daemon; --check-config reads sys.conf
// and says what the daemon will drop; a sys.conf that is a directory does not kill stafd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FakeTarget } from '../harness/fake-target/index.js';
import { scriptPath } from '../harness/daemons.js';
import { makeTestEtc } from '../harness/env.js';
import { startFinderRig, dcTuple } from '../finder/rig.js';
import { formatDhchapSecret, generateDhchapSecret } from '../../daemons/nvme/protocol/index.js';

const BASE = '[Global]\npleo=disabled\n[Service Discovery]\nzeroconf=disabled\n[Controllers]\n';
const dcLine = (port: number, extra = ''): string =>
  `controller=transport=tcp;traddr=127.0.0.1;trsvcid=${port}${extra}\n`;

test(
  'stafd: SIGHUP with a missing "=" or a random file is refused, the DC stays; a restart with the broken file uses the last accepted configuration',
  { timeout: 120_000 },
  async () => {
    const target = await FakeTarget.start();
    const rig = await startFinderRig({ conf: BASE + dcLine(target.port) });
    try {
      const tid = dcTuple('127.0.0.1', String(target.port), rig.etc.hostnqn);
      await rig.waitSignal((s) => s.member === 'log_pages_changed', 15_000);
      const connects = target.stats.connects.length;

      // the typo: `trsvcid41809` (today: the DC is replaced by one at port 8009)
      rig.etc.write('stafd.conf', BASE + `controller=transport=tcp;traddr=127.0.0.1;trsvcid${target.port}\n`);
      rig.stafd.signal('SIGHUP');
      const line = await rig.stafd.waitForLog('reload refused', 10_000);
      assert.match(line, /1 error\(s\) in .*stafd\.conf/);
      assert.match(
        rig.stafd.output(),
        new RegExp(
          `stafd\\.conf:6: \\[Controllers\\] controller: token \\\\"trsvcid${target.port}\\\\" has no \\\\"=\\\\"`,
        ),
      );
      assert.deepEqual(
        (await rig.listControllers(false)).map((c) => c.trsvcid),
        [String(target.port)],
      );
      assert.ok((await rig.getLogPages(tid)).length > 0);

      // an 8 KiB random file
      writeFileSync(rig.etc.stafdConf, randomBytes(8192));
      const since = Date.now();
      rig.stafd.signal('SIGHUP');
      await rig.waitFor(
        'second refusal',
        async () => (rig.stafd.output().split('reload refused').length === 3 ? true : undefined),
        10_000,
      );
      assert.match(rig.stafd.output(), /stafd\.conf:\d+: not a text file/);
      assert.deepEqual(
        (await rig.listControllers(false)).map((c) => c.trsvcid),
        [String(target.port)],
      );
      assert.equal(rig.signals.filter((s) => s.member === 'dc_removed').length, 0, 'no DC was removed');
      assert.equal(rig.signals.filter((s) => s.at >= since && s.member === 'dc_removed').length, 0);
      assert.equal(target.stats.connects.length, connects, 'the DC was not reconnected');
      assert.equal(rig.stafd.proc.exitCode, null);

      // a restart with the broken file: the last accepted configuration is used, and the log says so
      rig.etc.write('stafd.conf', BASE + `controller=transport=tcp;traddr=127.0.0.1;trsvcid${target.port}\n`);
      await rig.restart();
      await rig.stafd.waitForLog(
        /error\(s\) in .*stafd\.conf \(listed above\): starting with the last accepted configuration of .*stafd-accepted-config\.json/,
        10_000,
      );
      await rig.waitFor(
        'the DC from the accepted configuration',
        async () =>
          (await rig.listControllers(false)).some((c) => c.trsvcid === String(target.port)) ? true : undefined,
        15_000,
      );

      // a fixed file is applied again
      rig.etc.write('stafd.conf', BASE + dcLine(target.port, ';kato=17'));
      rig.stafd.signal('SIGHUP');
      await rig.stafd.waitForLog('reload: applying', 10_000);
      assert.equal(rig.stafd.output().split('reload refused').length, 1, 'this stafd refused nothing');
    } finally {
      await rig.stop();
      await target.stop();
    }
  },
);

test(
  'stafd: DHCHAP-SECRET= and dhchap_ctrl_secret= on a controller= line never reach D-Bus, stafctl --json, the cache or the log',
  { timeout: 60_000 },
  async () => {
    const target = await FakeTarget.start();
    // valid keys: the userspace host parses them (the fake target does not ask for authentication)
    const s1 = formatDhchapSecret(generateDhchapSecret(0));
    const s2 = formatDhchapSecret(generateDhchapSecret(0));
    const rig = await startFinderRig({
      conf: BASE + dcLine(target.port, `;DHCHAP-SECRET=${s1};dhchap_ctrl_secret=${s2}`),
    });
    try {
      const tid = dcTuple('127.0.0.1', String(target.port), rig.etc.hostnqn);
      await rig.waitSignal((s) => s.member === 'log_pages_changed', 15_000);
      const seen: [string, string][] = [
        ['list_controllers', JSON.stringify(await rig.listControllers(true))],
        [
          'controller_info',
          JSON.stringify(await rig.call('controller_info', 'sssssss', tid, 'org.nvmexpress.staf.debug')),
        ],
        ['get_all_log_pages', JSON.stringify(await rig.allLogPages(true))],
      ];
      for (const args of [
        ['ls', '--json'],
        ['status', '--json'],
        ['adlp', '--json'],
      ]) {
        const r = await rig.stafctl(args);
        assert.equal(r.code, 0, r.stderr);
        seen.push([`stafctl ${args.join(' ')}`, r.stdout]);
      }
      const cache = join(rig.etc.env.STATE_DIRECTORY!, 'last-known-config.json');
      await rig.waitFor(
        'cache written',
        async () => (readFileSync(cache, 'utf8').includes(String(target.port)) ? true : undefined),
        5_000,
      );
      seen.push(['cache file', readFileSync(cache, 'utf8')]);
      seen.push(['log', rig.stafd.output()]);
      for (const [where, text] of seen) {
        assert.ok(text.length > 0, where);
        for (const s of [s1, s2, s1.slice(10, 30), s2.slice(10, 30)])
          assert.ok(!text.includes(s), `a secret in ${where}`);
      }
      // list_controllers shows the other keys, only the secrets are left out
      const [dc] = await rig.listControllers(true);
      assert.ok(dc && !Object.keys(dc).some((k) => /dhchap/i.test(k)), JSON.stringify(dc));
    } finally {
      await rig.stop();
      await target.stop();
    }
  },
);

function checkConfig(
  prog: 'stafd' | 'stacd',
  file: string,
  env: Record<string, string>,
): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [scriptPath(prog), '-f', file, '--check-config'], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('--check-config: sys.conf problems, controller= lines the daemon drops, an empty exclude=, a missing file', () => {
  const etc = makeTestEtc();
  try {
    etc.write(
      'stafd.conf',
      `[Controllers]\ncontroller=transport=fc;traddr=nn-0x1:pn-0x2\nexclude=\ncontroller=transport=tcp;traddr=10.0.0.1\n`,
    );
    etc.write('sys.conf', '[Host]\nnqn=garbage\n');
    let r = checkConfig('stafd', etc.stafdConf, etc.env);
    assert.equal(r.code, 1, r.err);
    assert.match(
      r.err,
      /note: .*stafd\.conf:2: \[Controllers\] controller: stafd will ignore this entry: trsvcid missing/,
    );
    assert.match(
      r.err,
      /note: .*stafd\.conf:3: \[Controllers\] exclude: an empty exclude= entry excludes every controller/,
    );
    assert.match(r.err, /error: .*sys\.conf:2: \[Host\] nqn: Error Host NQN "garbage" should start with "nqn\."/);
    assert.doesNotMatch(r.err, /stafd\.conf:4/);

    etc.write('sys.conf', `[Host]\nnqn=nqn.${'a'.repeat(300)}\n`);
    assert.match(
      checkConfig('stafd', etc.stafdConf, etc.env).err,
      /sys\.conf:2: \[Host\] nqn: Error Host NQN is too long \(304 chars/,
    );
    etc.write('sys.conf', `[Host]\nnqn=file://${etc.dir}/missing-hostnqn\n`);
    assert.match(
      checkConfig('stacd', etc.stacdConf, etc.env).err,
      /sys\.conf:2: \[Host\] nqn: Error reading mandatory Host NQN .*No such file or directory/,
    );
    etc.write('sys.conf', '[Host]\nnqn=file:///dev/zero\n');
    r = checkConfig('stacd', etc.stacdConf, etc.env);
    assert.equal(r.code, 1);
    assert.match(r.err, /sys\.conf:2: \[Host\] nqn: .*larger than 65536 bytes/);

    etc.write('sys.conf', '[Host]\n');
    etc.write('stafd.conf', '[Global]\n');
    r = checkConfig('stafd', etc.stafdConf, etc.env);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${etc.stafdConf}: OK\n`);
    r = checkConfig('stafd', join(etc.dir, 'nonexistent.conf'), etc.env);
    assert.equal(r.code, 2);
    assert.match(r.err, /nonexistent\.conf: no such file/);
  } finally {
    etc.cleanup();
  }
});

test(
  'stafd with a sys.conf that is a directory: an error line, no stack trace, stafd runs',
  { timeout: 60_000 },
  async () => {
    const target = await FakeTarget.start();
    const etc = makeTestEtc();
    rmSync(etc.sysConf);
    mkdirSync(etc.sysConf);
    const rig = await startFinderRig({ conf: BASE + dcLine(target.port), etc });
    try {
      await rig.stafd.waitForLog(
        /Cannot read configuration file .*sys\.conf: is a directory; using the \[Host\] defaults/,
        10_000,
      );
      await rig.waitSignal((s) => s.member === 'log_pages_changed', 15_000);
      assert.doesNotMatch(rig.stafd.output(), /\n\s+at /, 'no stack trace');
      assert.equal(rig.stafd.proc.exitCode, null);
    } finally {
      await rig.stop();
      etc.cleanup();
      await target.stop();
    }
  },
);
