// stacctl schedule ls|show|add|rm|run-now, stacctl snapshot gc, stacctl check snapshots.
// Talks to stacd's org.nvmexpress.stac.Schedule1 object over D-Bus; --json everywhere (errors too).
import { Command, Option } from 'commander';
import { DaemonClient, STACD, CliError, EXIT } from '../common/client.js';
import { table, keyValues, printJson, runCommand } from '../common/output.js';
import { fromDBus } from '../../daemons/schedules/dbus/serialize.js';
import { evaluateFreshness, CHECK_UNKNOWN } from '../../daemons/schedules/check.js';
import { parseSystemdTimeSpan } from '../../daemons/config/timespan.js';
import { formatInZone } from '../../daemons/schedules/zone.js';

const IFACE = 'org.nvmexpress.stac.Schedule1';
const PATH = '/org/nvmexpress/stac/schedules';

type Rec = Record<string, unknown>;

function when(t: unknown, tz = 'UTC'): string {
  return typeof t === 'number' && t > 0 ? formatInZone(t, tz) : '-';
}

/** The child command `name` of `parent`, created if no other module registered it yet. */
function group(parent: Command, name: string, description: string): Command {
  return parent.commands.find((c) => c.name() === name) ?? parent.command(name).description(description);
}

async function call(client: DaemonClient, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
  return (await client.call(IFACE, member, signature, body, PATH)).map(fromDBus);
}

/** key=value words → settings; a key given twice is an error (say it once). */
export function parseSettingArgs(words: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0)
      throw new CliError(
        `"${w}" is not KEY=VALUE (e.g. volumes=db-* calendar=daily keep-daily=7)`,
        EXIT.USAGE,
        'usage',
      );
    const k = w.slice(0, eq).trim();
    if (k in out) throw new CliError(`${k} given twice`, EXIT.USAGE, 'usage');
    out[k] = w.slice(eq + 1);
  }
  return out;
}

function showRun(run: Rec, tz: string): string {
  const lines = [
    `${run.trigger} run at ${when(run.started_at, tz)}: ${run.outcome}${run.summary ? ` — ${run.summary}` : ''}`,
  ];
  for (const v of (run.volumes as Rec[] | undefined) ?? []) {
    lines.push(`  ${v.volume}: ${v.outcome}${v.snapshot ? ` ${v.snapshot}` : ''}${v.reason ? ` (${v.reason})` : ''}`);
    for (const w of (v.warnings as string[] | undefined) ?? []) lines.push(`    warning: ${w}`);
    for (const h of (v.hooks as Rec[] | undefined) ?? []) {
      lines.push(
        `    ${h.phase}-hook ${(h.argv as string[]).join(' ')}: ${h.ok ? 'ok' : 'FAILED'} (exit ${h.exit_code}${h.timed_out ? ', timed out' : ''}, ${h.duration_ms} ms)`,
      );
      const out = String(h.output ?? '').trimEnd();
      if (out) for (const l of out.split('\n').slice(-10)) lines.push(`      | ${l}`);
    }
    for (const p of (v.pruned as Rec[] | undefined) ?? []) lines.push(`    pruned ${p.snapshot}: ${p.rule}`);
  }
  return lines.join('\n');
}

function registerSchedule(program: Command, client: DaemonClient): void {
  const sched = group(program, 'schedule', 'snapshot schedules and their last runs');

  sched
    .command('ls')
    .description('list schedules with their next and last run')
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const [list] = (await call(client, 'ListSchedules')) as [Rec[]];
        if (o.json) return printJson(list);
        if (list.length === 0) return console.log('No schedules.');
        console.log(
          table(list, [
            { header: 'NAME', value: (r) => String(r.name) },
            { header: 'SOURCE', value: (r) => String(r.source) },
            { header: 'WHEN', value: (r) => String(r.when) },
            { header: 'VOLUMES', value: (r) => (r.volumes as string[]).join(' ') },
            { header: 'NEXT RUN', value: (r) => (r.enabled ? when(r.next_run, String(r.timezone)) : 'disabled') },
            { header: 'LAST RUN', value: (r) => when((r.last_run as Rec | undefined)?.started_at, String(r.timezone)) },
            { header: 'OUTCOME', value: (r) => String((r.last_run as Rec | undefined)?.outcome ?? '-') },
          ]),
        );
      }),
    );

  sched
    .command('show')
    .description('one schedule: settings, retention, hooks, and its last run (per volume: outcome, why, hook output)')
    .argument('<name>')
    .option('--json', 'JSON output')
    .action(async (name: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const [s] = (await call(client, 'GetSchedule', 's', [name])) as [Rec];
        if (o.json) return printJson(s);
        const tz = String(s.timezone);
        const { last_run: last, settings, ...rest } = s;
        console.log(keyValues({ ...rest, next_run: when(s.next_run, tz) }));
        console.log(`settings:\n${keyValues((settings as Rec) ?? {}, '  ')}`);
        console.log(last ? `last run:\n${showRun(last as Rec, tz).replace(/^/gm, '  ')}` : 'last run: never');
      }),
    );

  sched
    .command('add')
    .description('add a schedule (persisted by stacd); settings are the stacd.conf [Schedule NAME] keys')
    .argument('<name>')
    .argument(
      '<settings...>',
      'KEY=VALUE, e.g. volumes=db-* calendar="*-*-* 02:00" timezone=Europe/Berlin keep-daily=7',
    )
    .option('--json', 'JSON output')
    .action(async (name: string, words: string[], o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const [s] = (await call(client, 'AddSchedule', 'sa{ss}', [name, parseSettingArgs(words)])) as [Rec];
        if (o.json) return printJson(s);
        console.log(`schedule "${name}" added: ${s.when}, next run ${when(s.next_run, String(s.timezone))}`);
      }),
    );

  sched
    .command('rm')
    .description('remove a schedule added with "schedule add" (its snapshots stay)')
    .argument('<name>')
    .option('--json', 'JSON output')
    .action(async (name: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        await call(client, 'RemoveSchedule', 's', [name]);
        if (o.json) printJson({ removed: name });
        else console.log(`schedule "${name}" removed`);
      }),
    );

  sched
    .command('run-now')
    .description('run a schedule now (hooks, snapshot, retention); exit 1 unless every volume got its snapshot')
    .argument('<name>')
    .option('--json', 'JSON output')
    .action(async (name: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const [run] = (await call(client, 'RunNow', 's', [name])) as [Rec];
        if (o.json) printJson(run);
        else console.log(showRun(run, 'UTC'));
        if (run.outcome !== 'ok') process.exitCode = EXIT.FAILURE;
      }),
    );
}

function registerGc(program: Command, client: DaemonClient): void {
  group(program, 'snapshot', 'snapshots')
    .command('gc')
    .description('apply the retention of every schedule (or one) now; --dry-run only shows what would go')
    .option('--schedule <name>', 'only this schedule')
    .option('--volume <name>', 'only this volume')
    .option('--dry-run', 'delete nothing')
    .option('--explain', 'for each snapshot: kept or pruned, and by which rule(s)')
    .option('--json', 'JSON output')
    .action(async (o: { schedule?: string; volume?: string; dryRun?: boolean; explain?: boolean; json?: boolean }) =>
      runCommand(o.json, async () => {
        const [results] = (await call(client, o.dryRun ? 'PlanRetention' : 'CollectGarbage', 'ss', [
          o.schedule ?? '',
          o.volume ?? '',
        ])) as [Rec[]];
        if (o.json) return printJson({ dry_run: Boolean(o.dryRun), results });
        const verb = o.dryRun ? 'would prune' : 'pruned';
        for (const r of results) {
          const decisions = r.decisions as Rec[];
          const pruned = decisions.filter((d) => !d.keep).length;
          console.log(`${r.schedule} / ${r.volume}: ${decisions.length - pruned} kept, ${pruned} ${verb}`);
          if (o.explain) {
            for (const d of decisions) {
              console.log(
                `  ${d.keep ? 'keep ' : 'prune'}  ${String(d.snapshot).padEnd(40)} ${when(d.created_at)}  ${(d.rules as string[]).join('; ')}`,
              );
            }
          }
          for (const e of (r.errors as string[]) ?? []) console.log(`  error: ${e}`);
        }
        if (results.length === 0) console.log('No schedule covers a volume.');
        if (results.some((r) => ((r.errors as string[]) ?? []).length > 0)) process.exitCode = EXIT.FAILURE;
      }),
    );
}

function registerHolds(program: Command, client: DaemonClient): void {
  const snap = group(program, 'snapshot', 'snapshots');
  snap
    .command('hold')
    .description('keep a snapshot whatever the retention rules say, with the reason (shown by gc --explain)')
    .argument('<volume>')
    .argument('<name>')
    .requiredOption('--reason <text>', 'why it is held (e.g. a ticket number)')
    .option('--json', 'JSON output')
    .action(async (volume: string, name: string, o: { reason: string; json?: boolean }) =>
      runCommand(o.json, async () => {
        await call(client, 'HoldSnapshot', 'sss', [volume, name, o.reason]);
        if (o.json) printJson({ volume, snapshot: name, hold: o.reason });
        else console.log(`held ${volume}@${name}: ${o.reason}`);
      }),
    );
  snap
    .command('release')
    .description('release a held snapshot: retention applies to it again')
    .argument('<volume>')
    .argument('<name>')
    .option('--json', 'JSON output')
    .action(async (volume: string, name: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        await call(client, 'ReleaseSnapshot', 'ss', [volume, name]);
        if (o.json) printJson({ volume, snapshot: name, hold: null });
        else console.log(`released ${volume}@${name}`);
      }),
    );
}

function registerCheck(program: Command, client: DaemonClient): void {
  group(program, 'check', 'monitoring checks (Nagios/Icinga plugin output and exit codes)')
    .command('snapshots')
    .description(
      'age of the newest snapshot of every volume: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; no snapshot at all is CRITICAL',
    )
    .addOption(new Option('--warn <age>', 'WARNING when the newest snapshot is older (e.g. 26h)').makeOptionMandatory())
    .addOption(new Option('--crit <age>', 'CRITICAL when older (e.g. 50h)').makeOptionMandatory())
    .option('--volume <name...>', 'only these volumes')
    .option('--json', 'JSON output')
    .action(async (o: { warn: string; crit: string; volume?: string[]; json?: boolean }) => {
      let result: { code: number; status: string; line: string; volumes: unknown[] };
      try {
        const threshold = (text: string): number => {
          const r = parseSystemdTimeSpan(text);
          if ('error' in r) throw new Error(`bad threshold: ${r.error}`);
          return r.ms;
        };
        const warnMs = threshold(o.warn);
        const critMs = threshold(o.crit);
        const [now, volumes, unknown] = (await call(client, 'SnapshotFreshness', 'as', [o.volume ?? []])) as [
          number,
          Rec[],
          string[],
        ];
        result = evaluateFreshness({
          now,
          warnMs,
          critMs,
          unknownVolumes: unknown,
          volumes: volumes.map((v) => ({
            volume: String(v.volume),
            count: Number(v.count),
            newest: Number(v.newest) > 0 ? Number(v.newest) : null,
          })),
        });
      } catch (e) {
        // a monitoring check never fails "silently": anything unexpected is UNKNOWN with the reason
        result = {
          code: CHECK_UNKNOWN,
          status: 'UNKNOWN',
          line: `SNAPSHOTS UNKNOWN - ${(e as Error).message}`,
          volumes: [],
        };
      }
      if (o.json) printJson(result);
      else console.log(result.line);
      process.exitCode = result.code;
    });
}

/** Registers `schedule …`, `snapshot gc` and `check snapshots` on stacctl. */
export function register(program: Command, client: DaemonClient = new DaemonClient(STACD, 120_000)): void {
  registerSchedule(program, client);
  registerGc(program, client);
  registerHolds(program, client);
  registerCheck(program, client);
}
