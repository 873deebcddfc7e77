// Schedule1 on a private system bus (the project's policy), driven by the real stacctl schedule commands in a
// child process. The scheduler runs in this process with an in-memory store and a stopped clock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { repoRoot } from '../harness/repo.js';
import { runChecked, runSiblingModule, type ProcessResult } from '../harness/process.js';
import { connectSystemBus, waitConnected, requestBusName, type MessageBus } from '../../daemons/dbus/bus.js';
import { ManualClock } from '../../daemons/schedules/clock.js';
import { SnapshotScheduler } from '../../daemons/schedules/scheduler.js';
import { exportScheduleObject, SCHEDULES_PATH } from '../../daemons/schedules/dbus/schedule-object.js';
import { MemoryStore } from './memory-store.js';
import { def, tempStateDir, HOUR, DAY } from './helpers.js';

const NOW = Date.parse('2024-06-15T12:00:00Z');
let bus: PrivateBus;
let conn: MessageBus;
let store: MemoryStore;
let scheduler: SnapshotScheduler;
const signals: string[] = [];

/** the schedule commands of stacctl (stacctl-driver.ts) in a child process */
function stacctl(args: string[], busAddress = bus.address): Promise<ProcessResult> {
  return runSiblingModule(import.meta.url, 'stacctl-driver', args, {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: busAddress },
  });
}

before(async () => {
  bus = await startPrivateBus();
  process.env.DBUS_SYSTEM_BUS_ADDRESS = bus.address;
  conn = connectSystemBus();
  await waitConnected(conn);
  await requestBusName(conn, 'org.nvmexpress.stac');
  const clock = new ManualClock(NOW);
  store = new MemoryStore(clock);
  for (const v of ['db1', 'db2', 'web']) store.addVolume(v);
  store.put('db1', 'auto-hourly-old', NOW - 3 * DAY, { createdBy: 'hourly' });
  store.put('db1', 'auto-hourly-held', NOW - 4 * DAY, { createdBy: 'hourly', hold: 'audit 2024' });
  store.put('db1', 'before-upgrade', NOW - 5 * DAY, {});
  store.put('db2', 'auto-hourly-recent', NOW - 30 * 60_000, { createdBy: 'hourly' });
  let obj: ReturnType<typeof exportScheduleObject> | undefined;
  scheduler = new SnapshotScheduler({
    store,
    clock,
    stateDir: tempStateDir({ after: (fn) => after(fn) }),
    configSchedules: [def('hourly', { volumes: 'db*', interval: '1h', 'keep-hourly': '2' })],
    onRunFinished: (r) => {
      signals.push(`${r.schedule}:${r.outcome}`);
      obj?.runFinished(r);
    },
  });
  scheduler.start();
  obj = exportScheduleObject(conn, scheduler);
});

after(async () => {
  await scheduler?.stop();
  conn?.disconnect();
  await bus?.stop();
});

test('Introspect on the schedules object returns the XML file verbatim', async () => {
  const r = await runChecked('dbus-send', [
    `--bus=${bus.address}`,
    '--print-reply=literal',
    '--dest=org.nvmexpress.stac',
    SCHEDULES_PATH,
    'org.freedesktop.DBus.Introspectable.Introspect',
  ]);
  assert.equal(
    r.trim(),
    readFileSync(join(repoRoot(), 'dbus-interfaces', 'org.nvmexpress.stac.Schedule1.xml'), 'utf8').trim(),
  );
});

test('schedule add / ls / show / run-now / rm, with errors that name the schedule and field', async () => {
  const bad = await stacctl(['schedule', 'add', 'bad', 'volumes=nope', 'interval=1h']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /schedule "bad": volumes: unknown volume "nope"/);
  const neg = await stacctl(['schedule', 'add', 'nightly', 'volumes=web', 'interval=1h', 'keep-daily=-3', '--json']);
  assert.equal(neg.code, 1);
  assert.match(
    (JSON.parse(neg.stdout) as { error: { message: string } }).error.message,
    /schedule "nightly": keep-daily: "-3" must be a non-negative integer/,
  );
  const cal = await stacctl(['schedule', 'add', 'nightly', 'volumes=web', 'calendar=*-*-* 25:00']);
  assert.match(cal.stderr, /schedule "nightly": calendar: "\*-\*-\* 25:00": hour 25 is out of range 0\.\.23/);

  const add = await stacctl([
    'schedule',
    'add',
    'guarded',
    'volumes=web',
    'calendar=*-*-* 02:30',
    'timezone=Europe/Berlin',
    "pre-hook=/bin/sh -c 'echo db is busy >&2; exit 3'",
  ]);
  assert.equal(add.code, 0, add.stderr);
  assert.equal(
    add.stdout.trim(),
    'schedule "guarded" added: *-*-* 02:30:00 Europe/Berlin, next run 2024-06-16 02:30:00 +02:00',
  );

  const ls = await stacctl(['schedule', 'ls', '--json']);
  assert.equal(ls.code, 0, ls.stderr);
  const list = JSON.parse(ls.stdout) as { name: string; source: string; next_run: number }[];
  assert.deepEqual(
    list.map((s) => `${s.name}:${s.source}`),
    ['guarded:runtime', 'hourly:config'],
  );
  assert.equal(list[0]!.next_run, Date.parse('2024-06-16T00:30:00Z'));
  const table = await stacctl(['schedule', 'ls']);
  assert.match(table.stdout, /^NAME\s+SOURCE\s+WHEN\s+VOLUMES\s+NEXT RUN\s+LAST RUN\s+OUTCOME\n/);
  assert.match(table.stdout, /hourly\s+config\s+every 1h\s+db\*\s+2024-06-15 13:00:00 \+00:00\s+-\s+-/);

  const run = await stacctl(['schedule', 'run-now', 'guarded']);
  assert.equal(run.code, 1, 'a run that took no snapshot exits 1');
  assert.match(
    run.stdout,
    /web: aborted \(pre-hook \/bin\/sh exited with code 3: db is busy \(on-failure=abort: no snapshot taken\)\)/,
  );
  assert.equal(store.names('web').length, 0);
  const show = await stacctl(['schedule', 'show', 'guarded']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(
    show.stdout,
    /last run:\n\s+manual run at .*: failed — 1 aborted \(web: pre-hook \/bin\/sh exited with code 3: db is busy/,
  );
  assert.match(show.stdout, /\| db is busy/);
  const showJson = JSON.parse((await stacctl(['schedule', 'show', 'guarded', '--json'])).stdout) as {
    last_run: { volumes: { hooks: { exit_code: number }[] }[] };
  };
  assert.equal(showJson.last_run.volumes[0]!.hooks[0]!.exit_code, 3);

  const ok = await stacctl(['schedule', 'run-now', 'hourly', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { outcome: string }).outcome, 'ok');
  assert.ok(store.names('db1').includes('auto-hourly-20240615T120000Z'));
  assert.deepEqual(signals, ['guarded:failed', 'hourly:ok']);

  const rmConf = await stacctl(['schedule', 'rm', 'hourly']);
  assert.equal(rmConf.code, 1);
  assert.match(rmConf.stderr, /schedule "hourly": defined in test\.conf:1; remove it there and reload/);
  assert.equal((await stacctl(['schedule', 'rm', 'guarded'])).code, 0);
  const missing = await stacctl(['schedule', 'show', 'guarded', '--json']);
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /schedule \\"guarded\\": no such schedule/);
});

test('snapshot gc --dry-run --explain names the rule for each snapshot and deletes nothing; gc prunes; holds survive', async () => {
  store.put('db1', 'auto-hourly-2h', NOW - 2 * HOUR, { createdBy: 'hourly' });
  store.put('db1', 'auto-hourly-1h', NOW - 1 * HOUR, { createdBy: 'hourly' });
  const before = store.names('db1');
  const dry = await stacctl(['snapshot', 'gc', '--dry-run', '--explain', '--volume', 'db1']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(store.names('db1'), before);
  const lines = dry.stdout.trim().split('\n');
  assert.match(lines[0]!, /^hourly \/ db1: 4 kept, 2 would prune$/);
  const line = (snap: string): string => lines.find((l) => l.includes(` ${snap} `))!;
  assert.match(line('auto-hourly-20240615T120000Z'), /^\s+keep\s.*keep-hourly: newest in 2024-06-15 12h \(1 of 2\)/);
  assert.match(line('auto-hourly-1h'), /^\s+keep\s.*keep-hourly: newest in 2024-06-15 11h \(2 of 2\)/);
  assert.match(line('auto-hourly-2h'), /^\s+prune\s.*no-rule-keeps-it/);
  assert.match(line('auto-hourly-old'), /^\s+prune\s.*no-rule-keeps-it/);
  assert.match(line('auto-hourly-held'), /^\s+keep\s.*hold: audit 2024/);
  assert.match(line('before-upgrade'), /^\s+keep\s.*not-created-by-schedule: manual snapshot/);

  const json = JSON.parse((await stacctl(['snapshot', 'gc', '--dry-run', '--json'])).stdout) as {
    dry_run: boolean;
    results: { volume: string; decisions: { snapshot: string; keep: boolean; rules: string[] }[] }[];
  };
  assert.equal(json.dry_run, true);
  assert.deepEqual(
    json.results.map((r) => r.volume),
    ['db1', 'db2'],
  );

  const real = await stacctl(['snapshot', 'gc', '--schedule', 'hourly']);
  assert.equal(real.code, 0, real.stderr);
  assert.match(real.stdout, /hourly \/ db1: 4 kept, 2 pruned/);
  assert.deepEqual(store.names('db1').sort(), [
    'auto-hourly-1h',
    'auto-hourly-20240615T120000Z',
    'auto-hourly-held',
    'before-upgrade',
  ]);
});

test('check snapshots: Nagios line and exit codes; no snapshot is CRITICAL; stacd down is UNKNOWN', async () => {
  store.addVolume('logs');
  store.put('logs', 'l1', NOW - 30 * 60_000, {});
  store.addVolume('archive');
  store.put('archive', 'a1', NOW - 27 * HOUR, {});
  const all = await stacctl(['check', 'snapshots', '--warn', '26h', '--crit', '50h']);
  assert.equal(all.code, 2, all.stdout);
  assert.match(
    all.stdout,
    /^SNAPSHOTS CRITICAL - 5 volumes, no snapshot: web, older than 1d 2h: archive 1d 3h, newest snapshot age max 1d 3h \| 'db1_age'=\d+s;93600;180000;0; 'db2_age'=\d+s;93600;180000;0; 'web_age'=U;93600;180000;0; 'logs_age'=1800s;93600;180000;0; 'archive_age'=97200s;93600;180000;0;\n$/,
  );
  const ok = await stacctl(['check', 'snapshots', '--warn', '26h', '--crit', '50h', '--volume', 'logs']);
  assert.equal(ok.code, 0, ok.stdout);
  assert.equal(ok.stdout, "SNAPSHOTS OK - 1 volume, newest snapshot age max 30m | 'logs_age'=1800s;93600;180000;0;\n");
  const warn = await stacctl(['check', 'snapshots', '--warn', '26h', '--crit', '50h', '--volume', 'logs', 'archive']);
  assert.equal(warn.code, 1, warn.stdout);
  assert.match(
    warn.stdout,
    /^SNAPSHOTS WARNING - 2 volumes, older than 1d 2h: archive 1d 3h, newest snapshot age max 1d 3h \| /,
  );
  const crit = await stacctl([
    'check',
    'snapshots',
    '--warn',
    '10min',
    '--crit',
    '20min',
    '--volume',
    'logs',
    '--json',
  ]);
  assert.equal(crit.code, 2);
  assert.equal((JSON.parse(crit.stdout) as { status: string }).status, 'CRITICAL');
  const unknown = await stacctl(['check', 'snapshots', '--warn', '1h', '--crit', '2h', '--volume', 'nope', '--json']);
  assert.equal(unknown.code, 3);
  assert.equal((JSON.parse(unknown.stdout) as { line: string }).line, 'SNAPSHOTS UNKNOWN - no such volume: nope');
  const down = await stacctl(['check', 'snapshots', '--warn', '1h', '--crit', '2h'], 'unix:path=/nonexistent/bus');
  assert.equal(down.code, 3);
  assert.match(down.stdout, /^SNAPSHOTS UNKNOWN - cannot connect to the system bus/);
  const badArg = await stacctl(['check', 'snapshots', '--warn', 'soon', '--crit', '2h']);
  assert.equal(badArg.code, 3);
  assert.match(badArg.stdout, /^SNAPSHOTS UNKNOWN - bad threshold: "soon" is not a time span/);
});
