// Plain records ↔ D-Bus a{sv}. Keys are snake_case; instants are int64 ms since the epoch (UTC), 0 = none.
//
// schedule:  name s, source s ("config" | "runtime"), source_file s, enabled b, volumes as, when s,
//            timezone s, jitter_ms x, jitter_offset_ms x, retention a{sv}, settings a{sv} (strings),
//            next_run x, running b, last_run a{sv} (absent before the first run)
// run:       schedule s, trigger s, nominal x, started_at x, finished_at x, outcome s, summary s,
//            volumes aa{sv} {volume s, outcome s, snapshot s, reason s, warnings as,
//                            hooks aa{sv} {phase s, argv as, ok b, exit_code x (-1 = none), signal s,
//                                          timed_out b, duration_ms x, output s, output_truncated b, spawn_error s},
//                            pruned aa{sv} {snapshot s, rule s}}
// gc result: schedule s, volume s, deleted as, errors as,
//            decisions aa{sv} {snapshot s, created_at x, keep b, rules as, created_by s, hold s}
// freshness: volume s, count x, newest x (0 = no snapshot)
import dbus from 'dbus-next';
import type { ScheduleStatus, RunRecord, GcVolumeResult } from '../scheduler.js';
import type { VolumeFreshness } from '../check.js';
import { describeWhen } from '../schedule-def.js';

type Variant = InstanceType<typeof dbus.Variant>;
export type Dict = Record<string, Variant>;

/** A JS value as a Variant: strings s, booleans b, integers x, other numbers d, string arrays as, objects a{sv}. */
export function toVariant(v: unknown): Variant {
  if (typeof v === 'string') return new dbus.Variant('s', v);
  if (typeof v === 'boolean') return new dbus.Variant('b', v);
  if (typeof v === 'bigint') return new dbus.Variant('x', v);
  if (typeof v === 'number') return Number.isInteger(v) ? new dbus.Variant('x', BigInt(v)) : new dbus.Variant('d', v);
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return new dbus.Variant('as', v);
    return new dbus.Variant(
      'aa{sv}',
      v.map((x) => toDict(x as Record<string, unknown>)),
    );
  }
  if (v !== null && typeof v === 'object') return new dbus.Variant('a{sv}', toDict(v as Record<string, unknown>));
  throw new TypeError(`cannot send ${String(v)} over D-Bus`);
}

/** An object as a{sv}; undefined and null values are left out. */
export function toDict(o: Record<string, unknown>): Dict {
  const out: Dict = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null) out[k] = toVariant(v);
  return out;
}

/** The inverse for clients: Variants unwrapped, int64 as numbers. */
export function fromDBus(v: unknown): unknown {
  if (v instanceof dbus.Variant) return fromDBus(v.value);
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(fromDBus);
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromDBus(x)]));
  }
  return v;
}

export function runRecord(r: RunRecord): Record<string, unknown> {
  return {
    schedule: r.schedule,
    trigger: r.trigger,
    nominal: r.nominal,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    outcome: r.outcome,
    summary: r.summary,
    volumes: r.volumes.map((v) => ({
      volume: v.volume,
      outcome: v.outcome,
      snapshot: v.snapshot,
      reason: v.reason,
      warnings: v.warnings,
      hooks: v.hooks.map((h) => ({
        phase: h.phase,
        argv: h.argv,
        ok: h.ok,
        exit_code: h.exitCode ?? -1,
        signal: h.signal ?? '',
        timed_out: h.timedOut,
        duration_ms: h.durationMs,
        output: h.output,
        output_truncated: h.outputTruncated,
        spawn_error: h.spawnError,
      })),
      pruned: v.pruned,
    })),
  };
}

export function scheduleRecord(s: ScheduleStatus, full: boolean): Record<string, unknown> {
  const d = s.def;
  const rec: Record<string, unknown> = {
    name: d.name,
    source: d.source.kind,
    source_file: d.source.kind === 'config' ? `${d.source.file}:${d.source.line}` : '',
    enabled: d.enabled,
    volumes: d.volumes.map((v) => v.text),
    when: describeWhen(d),
    timezone: d.timeZone,
    jitter_ms: d.jitterMs,
    jitter_offset_ms: s.jitterOffsetMs,
    next_run: s.nextRun ?? 0,
    running: s.running,
    retention: {
      ...Object.fromEntries(Object.entries(d.retention.keep).map(([p, n]) => [`keep_${p}`, n])),
      max_age_ms: d.retention.maxAgeMs,
      keep_at_least: d.retention.keepAtLeast,
      min_free_percent: d.minFreePercent,
      low_space: d.minFreePercent !== undefined ? d.lowSpace : undefined,
    },
  };
  if (s.lastRun) {
    rec.last_run = full
      ? runRecord(s.lastRun)
      : {
          outcome: s.lastRun.outcome,
          summary: s.lastRun.summary,
          started_at: s.lastRun.startedAt,
          trigger: s.lastRun.trigger,
        };
  }
  if (full) {
    rec.settings = d.settings;
    rec.hooks = {
      pre: d.preHook ?? [],
      post: d.postHook ?? [],
      timeout_ms: d.hookTimeoutMs,
      on_failure: d.onFailure,
    };
  }
  return rec;
}

export function gcRecord(g: GcVolumeResult): Record<string, unknown> {
  return {
    schedule: g.schedule,
    volume: g.volume,
    deleted: g.deleted,
    errors: g.errors,
    decisions: g.decisions.map((x) => ({
      snapshot: x.snapshot.name,
      created_at: x.snapshot.createdAt,
      keep: x.keep,
      rules: x.rules,
      created_by: x.snapshot.meta.createdBy,
      hold: x.snapshot.meta.hold,
    })),
  };
}

export function freshnessRecord(f: VolumeFreshness): Record<string, unknown> {
  return { volume: f.volume, count: f.count, newest: f.newest ?? 0 };
}
