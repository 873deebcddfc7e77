// Fuzz tier, configuration files: seeded random and mutated stafd.conf/stacd.conf texts go through the validation
// of --check-config (in process for every case, through the real `--check-config` command for some) and through
// SIGHUP of the real stafd and stacd on a private bus (stafd following a fake NVMe/TCP DC, stacd connected to its
// subsystem, with a snapshot schedule). Every case: the daemon answers the reload with "reload refused", "reload:
// applying" or "reload: configuration unchanged" and keeps running; a refused file leaves the running configuration
// (the base DC or I/O controller and the schedule) in place. Both daemons exit 0 at the end within an RSS bound.
// STAS_FUZZ_SEED replays a run, STAS_FUZZ_COUNT sets the number of files per daemon (default 24).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { scriptPath, startDaemon, type RunningDaemon } from '../harness/daemons.js';
import { makeTestEtc, type TestEtc } from '../harness/env.js';
import { FakeTarget } from '../harness/fake-target/index.js';
import { repoRoot } from '../harness/repo.js';
import { rng, type Rng } from '../harness/rng.js';
import { callMethod, waitConnected } from '../../daemons/dbus/bus.js';
import { serviceConfigLoader } from '../../daemons/config/daemon-config.js';
import { checkStorageSections } from '../../daemons/volumes/stacd-storage.js';
import { ConfigError } from '../../daemons/config/errors.js';
import { fuzzCount, fuzzSeed, rssBytes } from './seed.js';

type Prog = 'stafd' | 'stacd';
const COUNT = fuzzCount(24);
/** files that also go through the real `--check-config` command (a node start each: slow on this machine) */
const CLI_COUNT = Math.min(COUNT, 6);
const SEED = fuzzSeed('config fuzz');
const RSS_LIMIT = 300 * 1024 * 1024;
const OUTCOME = /reload refused|reload: applying|reload: configuration unchanged/g;

let bus: PrivateBus;
let etc: TestEtc;
let target: FakeTarget;
let client: dbus.MessageBus;
const daemons: Partial<Record<Prog, RunningDaemon>> = {};
const BASE: Record<Prog, string> = { stafd: '', stacd: '' };

/** Pieces that make mutations interesting for an INI parser and the controller= tokenizer. */
const SNIPPETS = [
  '=',
  ';',
  '[',
  ']',
  '\n',
  ' ',
  '\t',
  '#',
  '\0',
  'é',
  '\ufffd',
  '\r\n',
  'controller=',
  'exclude=',
  '[Global]',
  '[Controllers]',
  '[Schedule s1]',
  'kato=',
  'trsvcid',
  'dhchap_secret=x',
  '=;=',
  '\n  continued',
];
const LINES = [
  'kato=banana',
  'bogus-key=1',
  'controller=transport=tcp;traddr=127.0.0.1;trsvcid4420',
  'exclude=',
  'controller=',
  '[Volumes]',
  'roott=/x',
  'colour=blue',
  'ip-family=ipv7',
  `kato=${'9'.repeat(20_000)}`,
  'no equals sign here',
  '= value without key',
  'tron=true',
  'queue-size=8',
];

function mutate(r: Rng, text: string): string {
  let t = text;
  for (let i = 0, n = 1 + r.int(4); i < n; i++) {
    const at = r.int(t.length + 1);
    switch (r.int(7)) {
      case 0: // delete a run of characters
        t = t.slice(0, at) + t.slice(at + 1 + r.int(8));
        break;
      case 1: // insert a snippet
        t = t.slice(0, at) + r.pick(SNIPPETS) + t.slice(at);
        break;
      case 2: {
        // drop the "=" of a random line
        const lines = t.split('\n');
        const k = r.int(lines.length);
        lines[k] = lines[k]!.replace('=', '');
        t = lines.join('\n');
        break;
      }
      case 3: {
        // insert a known-bad line
        const lines = t.split('\n');
        lines.splice(r.int(lines.length + 1), 0, r.pick(LINES));
        t = lines.join('\n');
        break;
      }
      case 4: // truncate
        t = t.slice(0, at);
        break;
      case 5: // random bytes spliced in
        t = t.slice(0, at) + r.bytes(1 + r.int(64)).toString('latin1') + t.slice(at);
        break;
      default: {
        // duplicate or swap lines
        const lines = t.split('\n');
        const a = r.int(lines.length);
        const b = r.int(lines.length);
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        if (r.chance(0.5)) lines.splice(a, 0, lines[b]!);
        t = lines.join('\n');
      }
    }
  }
  return t;
}

/** One case: a random file (bytes) or a mutated base or shipped file. */
function makeCase(r: Rng, prog: Prog): Buffer {
  const kind = r.int(10);
  if (kind === 0) return r.bytes(r.int(8193));
  const shipped = readFileSync(join(repoRoot(), 'etc', 'stas', `${prog}.conf`), 'utf8');
  return Buffer.from(mutate(r, kind < 7 ? BASE[prog] : shipped), 'latin1');
}

function countOutcomes(d: RunningDaemon): number {
  return d.output().match(OUTCOME)?.length ?? 0;
}

/** Sends SIGHUP and waits for the daemon's verdict on the file; returns that log line. */
async function reload(prog: Prog): Promise<string> {
  const d = daemons[prog]!;
  const before = countOutcomes(d);
  d.signal('SIGHUP');
  const deadline = Date.now() + 20_000;
  while (countOutcomes(d) <= before) {
    assert.equal(d.proc.exitCode, null, `${prog} exited (seed ${SEED}):\n${d.output().slice(-3000)}`);
    assert.ok(
      Date.now() < deadline,
      `${prog} gave no verdict on a reload within 20 s (seed ${SEED}):\n${d.output().slice(-3000)}`,
    );
    await new Promise((res) => setTimeout(res, 50));
  }
  const lines = d
    .output()
    .split('\n')
    .filter((l) => /reload refused|reload: applying|reload: configuration unchanged/.test(l));
  return lines[lines.length - 1]!;
}

async function call(
  dest: string,
  path: string,
  iface: string,
  member: string,
  signature = '',
  body: unknown[] = [],
): Promise<unknown[]> {
  return callMethod(client, { destination: dest, path, interface: iface, member, signature, body }, 20_000);
}

/** What a refused reload must leave in place. */
async function runningState(prog: Prog): Promise<string> {
  if (prog === 'stafd') {
    const [l] = await call(
      'org.nvmexpress.staf',
      '/org/nvmexpress/staf',
      'org.nvmexpress.staf',
      'list_controllers',
      'b',
      [false],
    );
    return JSON.stringify((l as Record<string, string>[]).map((c) => `${c.traddr}:${c.trsvcid}`).sort());
  }
  const [l] = await call(
    'org.nvmexpress.stac',
    '/org/nvmexpress/stac',
    'org.nvmexpress.stac',
    'list_controllers',
    'b',
    [false],
  );
  const [s] = await call(
    'org.nvmexpress.stac',
    '/org/nvmexpress/stac/schedules',
    'org.nvmexpress.stac.Schedule1',
    'ListSchedules',
  );
  return JSON.stringify([(l as Record<string, string>[]).map((c) => c.subsysnqn).sort(), s], (_k, v: unknown) =>
    typeof v === 'bigint' ? String(v) : v,
  );
}

before(async () => {
  target = await FakeTarget.start();
  bus = await startPrivateBus();
  BASE.stafd = `[Global]\npleo=disabled\n[Service Discovery]\nzeroconf=disabled\n[Controllers]\ncontroller=transport=tcp;traddr=127.0.0.1;trsvcid=${target.port}\n`;
  BASE.stacd = `[Global]\n[Controllers]\ncontroller=transport=tcp;traddr=127.0.0.1;trsvcid=${target.port};subsysnqn=${target.subsystems[0]!.nqn}\n[Schedule s1]\nvolumes=*\ninterval=1d\nkeep-daily=2\n`;
  etc = makeTestEtc({ stafd: BASE.stafd, stacd: BASE.stacd });
  const env = { ...etc.env, STAS_FABRICS_DRIVER: 'userspace' };
  daemons.stafd = await startDaemon('stafd', {
    busAddress: bus.address,
    confFile: etc.stafdConf,
    env: { ...env, STATE_DIRECTORY: join(etc.dir, 'stafd-state') },
  });
  daemons.stacd = await startDaemon('stacd', { busAddress: bus.address, confFile: etc.stacdConf, env });
  client = dbus.sessionBus({ busAddress: bus.address });
  await waitConnected(client);
  await daemons.stacd.waitForLog('stacd ready on D-Bus', 30_000);
  await daemons.stafd.waitForLog('stafd ready on D-Bus', 30_000);
});

after(async () => {
  client?.disconnect();
  for (const d of Object.values(daemons)) await d?.stop().catch(() => undefined);
  await bus?.stop();
  await target?.stop();
  etc?.cleanup();
});

test('random and mutated files through the --check-config validation: problems reported, never an exception', () => {
  const r = rng(SEED);
  let cli = 0;
  for (let i = 0; i < COUNT; i++) {
    const prog: Prog = i % 2 === 0 ? 'stafd' : 'stacd';
    const file = join(etc.dir, `fuzz-${i}.conf`);
    writeFileSync(file, makeCase(r, prog));
    const loader = serviceConfigLoader(prog, prog === 'stacd' ? checkStorageSections : undefined);
    const t0 = Date.now();
    try {
      const loaded = loader.loadConfig(file);
      for (const p of [...loaded.errors, ...loaded.warnings])
        assert.ok(p.length < 2000, `a ${p.length}-character message (case ${i}, seed ${SEED})`);
    } catch (e) {
      assert.ok(e instanceof ConfigError, `case ${i} (seed ${SEED}): ${(e as Error).stack}`);
    }
    assert.ok(Date.now() - t0 < 5_000, `case ${i} took ${Date.now() - t0} ms (seed ${SEED})`);
    if (cli < CLI_COUNT && i % Math.max(1, Math.floor(COUNT / CLI_COUNT)) === 0) {
      cli++;
      const res = spawnSync(process.execPath, [scriptPath(prog), '-f', file, '--check-config'], {
        encoding: 'utf8',
        env: { ...process.env, ...etc.env },
        timeout: 30_000,
      });
      assert.ok(
        res.status === 0 || res.status === 1 || res.status === 2,
        `--check-config exit ${res.status} (case ${i}, seed ${SEED}):\n${res.stderr}`,
      );
      assert.doesNotMatch(res.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, `a stack trace (case ${i}, seed ${SEED})`);
    }
  }
  assert.equal(cli, CLI_COUNT);
});

test(
  'random and mutated files by SIGHUP: a verdict every time, a refused file keeps the running configuration, no crash',
  { timeout: 900_000 },
  async () => {
    const r = rng(SEED ^ 0x5a5a5a5a);
    const tally = { refused: 0, applied: 0 };
    for (const prog of ['stafd', 'stacd'] as const) {
      const file = prog === 'stafd' ? etc.stafdConf : etc.stacdConf;
      for (let i = 0; i < COUNT; i++) {
        // from the base configuration, with its effect in place
        writeFileSync(file, BASE[prog]);
        await reload(prog);
        const baseline = await waitStable(prog);
        writeFileSync(file, makeCase(r, prog));
        const verdict = await reload(prog);
        if (verdict.includes('reload refused')) {
          tally.refused++;
          assert.equal(
            await runningState(prog),
            baseline,
            `${prog} case ${i}: a refused reload changed the running configuration (seed ${SEED})`,
          );
        } else tally.applied++;
      }
    }
    console.log(`# config fuzz: ${tally.refused} reload(s) refused, ${tally.applied} applied (seed ${SEED})`);
    assert.ok(tally.refused > 0, 'some files must have been refused');
    for (const prog of ['stafd', 'stacd'] as const) {
      const d = daemons[prog]!;
      assert.equal(d.proc.exitCode, null, `${prog} still runs`);
      const rss = rssBytes(d.proc.pid!);
      assert.ok(rss !== undefined);
      console.log(
        `# ${prog}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB after the fuzzing (bound ${RSS_LIMIT / 2 ** 20} MiB)`,
      );
      assert.ok(rss < RSS_LIMIT, `${prog}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB (seed ${SEED})`);
    }
    // the base files are applied again, and both daemons stop cleanly
    writeFileSync(etc.stafdConf, BASE.stafd);
    writeFileSync(etc.stacdConf, BASE.stacd);
    for (const prog of ['stafd', 'stacd'] as const) assert.doesNotMatch(await reload(prog), /reload refused/);
    for (const prog of ['stafd', 'stacd'] as const) assert.equal(await daemons[prog]!.stop(), 0, `${prog} exit code`);
  },
);

/** The running state once the base configuration's controller is in place (a reload's pass is asynchronous). */
async function waitStable(prog: Prog): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = await runningState(prog);
    const want = prog === 'stafd' ? `127.0.0.1:${target.port}` : target.subsystems[0]!.nqn;
    if (s.includes(want) && (prog === 'stacd' ? s.includes('s1') : JSON.parse(s).length === 1)) return s;
    assert.ok(Date.now() < deadline, `${prog}: base configuration not in effect within 20 s: ${s}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
