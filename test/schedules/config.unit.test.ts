// Schedules from stacd.conf + drop-ins, and bad input: every error names the schedule and the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schedulesFromTexts } from '../../daemons/schedules/config.js';
import { readConfigFiles } from '../../daemons/config/service-config.js';
import { parseSchedule } from '../../daemons/schedules/schedule-def.js';
import { tempStateDir } from './helpers.js';

const parse = (name: string, settings: Record<string, string>): unknown =>
  parseSchedule(
    name,
    Object.entries(settings).map(([key, value]) => ({ key, value })),
    { kind: 'runtime' },
  );

test('stacd.conf sections and drop-ins (later files override single settings)', (t) => {
  const dir = tempStateDir(t);
  const main = join(dir, 'stacd.conf');
  writeFileSync(
    main,
    [
      '[Global]',
      'tron=false',
      '',
      '[Schedule nightly]',
      '# comment',
      'volumes = db-* label:backup=yes',
      'calendar = *-*-* 02:00',
      'timezone = Europe/Berlin',
      'keep-daily = 7',
      'keep-weekly = 4',
      'pre-hook = /usr/local/bin/freeze "--db name"',
      'on-failure = warn',
      'jitter = 5min',
      '',
      '[Schedule often]',
      'volumes = scratch',
      'interval = 15min',
      'max-age = 2d',
      'min-free = 10%',
      'low-space = prune-oldest-first',
    ].join('\n'),
  );
  mkdirSync(`${main}.d`);
  writeFileSync(join(`${main}.d`, '50-local.conf'), '[Schedule nightly]\nkeep-daily = 14\n');
  const { schedules, errors } = schedulesFromTexts(readConfigFiles(main));
  assert.deepEqual(
    errors.map((e) => e.message),
    [],
  );
  assert.equal(schedules.length, 2);
  const n = schedules.find((s) => s.name === 'nightly')!;
  assert.deepEqual(n.retention.keep, { daily: 14, weekly: 4 });
  assert.equal(n.timeZone, 'Europe/Berlin');
  assert.equal(n.when.kind === 'calendar' && n.when.spec.normalized, '*-*-* 02:00:00');
  assert.deepEqual(n.preHook, ['/usr/local/bin/freeze', '--db name']);
  assert.equal(n.onFailure, 'warn');
  assert.equal(n.jitterMs, 300_000);
  assert.deepEqual(
    n.volumes.map((v) => v.kind),
    ['glob', 'label'],
  );
  assert.deepEqual(n.source, { kind: 'config', file: main, line: 4 });
  const o = schedules.find((s) => s.name === 'often')!;
  assert.deepEqual(o.when, { kind: 'interval', ms: 900_000, text: '15m' });
  assert.equal(o.retention.maxAgeMs, 2 * 86_400_000);
  assert.equal(o.minFreePercent, 10);
  assert.equal(o.lowSpace, 'prune-oldest-first');
  assert.equal(o.timeZone, 'UTC');
  assert.equal(o.hookTimeoutMs, 60_000);
});

test('a broken schedule is reported with file and line and does not stop the others', () => {
  const { schedules, errors } = schedulesFromTexts([
    {
      path: '/etc/stas/stacd.conf',
      text: '[Schedule good]\nvolumes=a\ninterval=1h\n[Schedule nightly]\nvolumes=a\ninterval=1h\nkeep-daily=-3\n',
    },
  ]);
  assert.deepEqual(
    schedules.map((s) => s.name),
    ['good'],
  );
  assert.deepEqual(
    errors.map((e) => e.message),
    ['/etc/stas/stacd.conf:7: schedule "nightly": keep-daily: "-3" must be a non-negative integer'],
  );
  const bad = schedulesFromTexts([
    { path: 'f.conf', text: '[Schedule x]\nvolumes=a\ninterval=1h\nthis is not a setting\n' },
  ]);
  assert.deepEqual(
    bad.errors.map((e) => e.message),
    ['f.conf:4: schedule "x": expected key=value'],
  );
});

test('schedule sections read with the config syntax: "=" only, continuation lines, merged names', () => {
  const errorsOf = (text: string): string[] =>
    schedulesFromTexts([{ path: 'f.conf', text }]).errors.map((e) => e.message);
  // nvme-stas's delimiter is "=" alone (the config layer refuses "key: value" in the same file)
  assert.deepEqual(errorsOf('[Schedule x]\nvolumes=a\ninterval: 1h\n'), ['f.conf:3: schedule "x": expected key=value']);
  assert.deepEqual(errorsOf('[Schedule x]\nvolumes=a\n= 1h\n'), ['f.conf:3: schedule "x": expected key=value']);
  // a deeper-indented line continues the setting above it, as everywhere in the file: refused, not misread
  assert.deepEqual(errorsOf('[Schedule x]\nvolumes=a\ninterval=1h\n  keep-daily=7\n'), [
    'f.conf:4: schedule "x": interval: continues on an indented line; a schedule setting is one line',
  ]);
  // settings indented alike under their header are plain settings; ";" and "#" inside a value are not comments
  const ok = schedulesFromTexts([
    { path: 'f.conf', text: '[schedule "x"]\n  volumes = a\n  interval = 1h\n  pre-hook = /bin/echo a;b#c\n' },
    { path: 'f.conf.d/1.conf', text: '[Schedule x]\ninterval = 2h\n' },
  ]);
  assert.deepEqual(ok.errors, []);
  assert.deepEqual(
    ok.schedules.map((s) => [s.name, s.when.kind === 'interval' && s.when.ms, s.preHook, s.source]),
    [['x', 7_200_000, ['/bin/echo', 'a;b#c'], { kind: 'config', file: 'f.conf', line: 1 }]],
  );
  // the first problem in file order is reported, with its file and line
  assert.deepEqual(
    schedulesFromTexts([
      { path: 'a.conf', text: '[Schedule x]\nvolumes=a\ninterval=1h\n' },
      { path: 'b.conf', text: '[Schedule x]\nbroken\n[Schedule "x"]\nkeep-daily: 3\n' },
    ]).errors.map((e) => e.message),
    ['b.conf:2: schedule "x": expected key=value'],
  );
});

test('bad input: errors name the schedule and the field', () => {
  // [settings of schedule "nightly", the error after 'schedule "nightly": ']
  const cases: [Record<string, string>, string][] = [
    [{ volumes: 'a', interval: '1h', 'keep-daily': '-3' }, 'keep-daily: "-3" must be a non-negative integer'],
    [{ volumes: 'a', interval: '1h', 'keep-hourly': '2.5' }, 'keep-hourly: "2.5" must be a non-negative integer'],
    [{ volumes: 'a', calendar: '*-*-* 25:00' }, 'calendar: "*-*-* 25:00": hour 25 is out of range 0..23'],
    [{ volumes: 'a', calendar: 'Mon..Fry 08:00' }, 'calendar: "Mon..Fry 08:00": unknown weekday "Fry"'],
    [{ volumes: 'a', interval: 'often' }, 'interval: "often" is not a time span (e.g. 90s, 15min, 1h, 2d 12h)'],
    [{ volumes: 'a', interval: '10s' }, 'interval: "10s" is shorter than the minimum of 1min'],
    [{ volumes: 'a' }, 'interval: missing: give interval= (e.g. 1h) or calendar= (e.g. daily, *-*-* 02:00)'],
    [{ volumes: 'a', interval: '1h', calendar: 'daily' }, 'calendar: give either interval= or calendar=, not both'],
    [{ interval: '1h' }, 'volumes: missing: say which volumes (names, globs or label:key=value)'],
    [
      { volumes: 'a', interval: '1h', 'keep-forever': '1' },
      'keep-forever: unknown setting (known: volumes, interval, calendar, timezone, jitter, enabled, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly, keep-at-least, max-age, min-free, low-space, pre-hook, post-hook, hook-timeout, on-failure)',
    ],
    [
      { volumes: 'a', interval: '1h', timezone: 'Mars/Olympus' },
      'timezone: "Mars/Olympus" is not a known time zone (IANA name like Europe/Berlin, or UTC)',
    ],
    [{ volumes: 'a', interval: '1h', 'on-failure': 'ignore' }, 'on-failure: "ignore" must be one of abort, warn'],
    [{ volumes: 'a', interval: '1h', 'min-free': '120%' }, 'min-free: "120%" must be a percentage 0-100 (e.g. 10%)'],
    [{ volumes: 'a', interval: '1h', 'low-space': 'skip' }, 'low-space: has no effect without min-free='],
    [
      { volumes: 'a', interval: '1h', 'pre-hook': 'freeze.sh' },
      'pre-hook: "freeze.sh" must be an absolute path (hooks are run without a shell or PATH search)',
    ],
    [{ volumes: 'a', interval: '1h', 'pre-hook': "/bin/x 'oops" }, "pre-hook: unterminated ' quote"],
    [{ volumes: 'a', interval: '1h', 'hook-timeout': '0' }, 'hook-timeout: "0" must be longer than 0'],
    [{ volumes: 'bad/name', interval: '1h' }, 'volumes: "bad/name" is not a volume name, glob or label:key=value'],
    [{ volumes: 'label:=x', interval: '1h' }, 'volumes: "label:=x": label key "" is empty or has invalid characters'],
    [{ volumes: 'a', interval: '1h', enabled: 'maybe' }, 'enabled: "maybe" must be true or false'],
  ];
  for (const [settings, message] of cases)
    assert.throws(
      () => parse('nightly', settings),
      { name: 'ScheduleError', message: `schedule "nightly": ${message}` },
      JSON.stringify(settings),
    );
  assert.throws(() => parse('bad name', { volumes: 'a', interval: '1h' }), {
    name: 'ScheduleError',
    message:
      'schedule "bad name": a schedule name is 1-64 characters of letters, digits, "_", "." and "-", starting with a letter or digit',
  });
});
