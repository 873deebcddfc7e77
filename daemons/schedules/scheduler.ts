// The schedule service: arms one timer per schedule on an injectable Clock, takes snapshots through the
// SnapshotStore, runs hooks, applies retention and the free-space guard, records why each run did what it
// did, and persists its state atomically so restarts catch up missed runs exactly once.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { log } from '../common/log.js';
import type { Clock, TimerHandle } from './clock.js';
import type { SnapshotStore, SnapshotRef } from './snapshot-store.js';
import { ScheduleError, UnknownScheduleError, UnknownSnapshotError, UnknownVolumeError } from './errors.js';
import {
  parseSchedule,
  nextNominalRun,
  validateScheduleName,
  type ScheduleDef,
  type SettingEntry,
} from './schedule-def.js';
import { selectVolumes } from './volume-select.js';
import { planRetention, pruneOldestFirstCandidates, type RetentionDecision } from './retention.js';
import { runHook, describeHookFailure, type HookResult } from './hooks.js';
import { snapshotName, jitterOffset } from './naming.js';
import { readJson, writeJsonAtomic } from './persist.js';
import type { VolumeFreshness } from './check.js';

export type VolumeOutcome = 'created' | 'aborted' | 'skipped' | 'failed';
export type RunOutcome = 'ok' | 'partial' | 'failed' | 'skipped';
export type RunTrigger = 'timer' | 'catch-up' | 'manual';

export interface VolumeRunRecord {
  volume: string;
  outcome: VolumeOutcome;
  snapshot?: string;
  /** why it was not created, or warnings (a failing hook with on-failure=warn, a failing post hook) */
  reason?: string;
  warnings: string[];
  hooks: HookResult[];
  /** snapshots deleted for this volume by retention or the free-space guard */
  pruned: { snapshot: string; rule: string }[];
}

export interface RunRecord {
  schedule: string;
  trigger: RunTrigger;
  /** the scheduled (un-jittered) instant this run stands for; for manual runs the start time */
  nominal: number;
  startedAt: number;
  finishedAt: number;
  outcome: RunOutcome;
  /** one-line summary, e.g. "2 created, 1 aborted (vol3: pre-hook /usr/bin/freeze exited with code 3)" */
  summary: string;
  volumes: VolumeRunRecord[];
}

export interface ScheduleStatus {
  def: ScheduleDef;
  /** next due instant (nominal + jitter), null when disabled or never again */
  nextRun: number | null;
  nextNominal: number | null;
  jitterOffsetMs: number;
  lastRun?: RunRecord;
  running: boolean;
}

export interface GcVolumeResult {
  schedule: string;
  volume: string;
  decisions: RetentionDecision[];
  deleted: string[];
  errors: string[];
}

export interface SchedulerOptions {
  store: SnapshotStore;
  clock: Clock;
  /** where schedules.json (D-Bus/CLI schedules) and schedule-state.json (last runs) live */
  stateDir: string;
  /** host identity mixed into the jitter hash (host NQN or machine id); default: hostname */
  hostId?: string;
  /** schedules from stacd.conf and drop-ins */
  configSchedules?: ScheduleDef[];
  /** called after every run (D-Bus signal) */
  onRunFinished?: (run: RunRecord) => void;
  /** max bytes of hook output kept per hook */
  hookOutputBytes?: number;
}

interface Entry {
  def: ScheduleDef;
  timer?: TimerHandle;
  nextNominal: number | null;
  nextDue: number | null;
  /** nominal instant of the last run (persisted: the basis of catch-up) */
  lastNominal?: number;
  lastRun?: RunRecord;
  running: boolean;
}

interface PersistedState {
  version: 1;
  schedules: Record<string, { lastNominal?: number; lastRun?: RunRecord }>;
}

interface PersistedDefs {
  version: 1;
  schedules: Record<string, Record<string, string>>;
}

function summarize(volumes: readonly VolumeRunRecord[]): { outcome: RunOutcome; summary: string } {
  if (volumes.length === 0) return { outcome: 'skipped', summary: 'no volume matches the schedule' };
  const count = (o: VolumeOutcome): number => volumes.filter((v) => v.outcome === o).length;
  const parts: string[] = [];
  for (const o of ['created', 'aborted', 'skipped', 'failed'] as const) {
    const n = count(o);
    if (!n) continue;
    const why =
      o === 'created'
        ? ''
        : ` (${volumes
            .filter((v) => v.outcome === o)
            .map((v) => `${v.volume}: ${v.reason}`)
            .join('; ')})`;
    parts.push(`${n} ${o}${why}`);
  }
  const warnings = volumes.flatMap((v) => v.warnings.map((w) => `${v.volume}: ${w}`));
  if (warnings.length) parts.push(`warnings: ${warnings.join('; ')}`);
  const created = count('created');
  const outcome: RunOutcome =
    created === volumes.length
      ? 'ok'
      : created > 0
        ? 'partial'
        : count('skipped') === volumes.length
          ? 'skipped'
          : 'failed';
  return { outcome, summary: parts.join(', ') };
}

export class SnapshotScheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly store: SnapshotStore;
  private readonly clock: Clock;
  private readonly hostId: string;
  private readonly stateFile: string;
  private readonly defsFile: string;
  /** runs and GC are serialised: one store mutation sequence at a time */
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private started = false;

  constructor(private readonly opts: SchedulerOptions) {
    this.store = opts.store;
    this.clock = opts.clock;
    this.hostId = opts.hostId ?? hostname();
    this.stateFile = join(opts.stateDir, 'schedule-state.json');
    this.defsFile = join(opts.stateDir, 'schedules.json');
    this.load();
  }

  /** Catches up missed runs once and arms the timers. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const e of this.entries.values()) this.armAtStart(e);
  }

  /** Config schedules plus the persisted D-Bus/CLI schedules, with their last-run state. */
  private load(): void {
    const state = this.readState();
    for (const def of this.opts.configSchedules ?? []) this.entries.set(def.name, this.newEntry(def));
    for (const [name, settings] of Object.entries(this.readDefs())) {
      if (this.entries.has(name)) {
        log().warn(
          { schedule: name },
          'schedule added over D-Bus is shadowed by a stacd.conf schedule of the same name',
        );
        continue;
      }
      try {
        this.entries.set(name, this.newEntry(parseSchedule(name, toEntries(settings), { kind: 'runtime' })));
      } catch (e) {
        log().error({ schedule: name, err: (e as Error).message }, 'persisted schedule is invalid; ignored');
      }
    }
    for (const [name, e] of this.entries) {
      const s = state.schedules[name];
      if (s?.lastNominal !== undefined) e.lastNominal = s.lastNominal;
      if (s?.lastRun) e.lastRun = s.lastRun;
    }
  }

  /** Cancels timers; waits for a run in progress. */
  async stop(): Promise<void> {
    for (const e of this.entries.values()) e.timer?.cancel();
    this.started = false;
    await this.idle();
  }

  /** Resolves when no run or GC is queued or running. */
  async idle(): Promise<void> {
    while (this.pending > 0) await this.queue.catch(() => undefined);
  }

  list(): ScheduleStatus[] {
    return [...this.entries.values()].sort((a, b) => (a.def.name < b.def.name ? -1 : 1)).map((e) => this.status(e));
  }

  get(name: string): ScheduleStatus {
    return this.status(this.entry(name));
  }

  /** Adds a schedule from settings (D-Bus/CLI); persisted. Unknown exact volume names are refused. */
  async add(name: string, settings: Record<string, string>): Promise<ScheduleStatus> {
    validateScheduleName(name);
    if (this.entries.has(name)) throw new ScheduleError(name, undefined, 'a schedule with this name exists already');
    const def = parseSchedule(name, toEntries(settings), { kind: 'runtime' });
    const { unknown } = selectVolumes(def.volumes, await this.store.listVolumes());
    if (unknown.length > 0)
      throw new ScheduleError(
        name,
        'volumes',
        `unknown volume${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}`,
      );
    const e = this.newEntry(def);
    this.entries.set(name, e);
    this.saveDefs();
    if (this.started) this.arm(e, this.clock.now());
    log().info({ schedule: name, settings }, 'schedule added');
    return this.status(e);
  }

  /** Removes a D-Bus/CLI schedule; config schedules must be removed from the file. */
  remove(name: string): void {
    const e = this.entry(name);
    if (e.def.source.kind === 'config') {
      throw new ScheduleError(
        name,
        undefined,
        `defined in ${e.def.source.file}:${e.def.source.line}; remove it there and reload`,
      );
    }
    e.timer?.cancel();
    this.entries.delete(name);
    this.saveDefs();
    this.saveState();
    log().info({ schedule: name }, 'schedule removed');
  }

  /** Replaces the config schedules (SIGHUP). Last-run state of schedules that stay is kept. */
  reload(configSchedules: ScheduleDef[]): void {
    for (const [name, e] of [...this.entries]) {
      if (e.def.source.kind === 'config') {
        e.timer?.cancel();
        this.entries.delete(name);
      }
    }
    const state = this.readState();
    for (const def of configSchedules) {
      const e = this.newEntry(def);
      const s = state.schedules[def.name];
      if (s?.lastNominal !== undefined) e.lastNominal = s.lastNominal;
      if (s?.lastRun) e.lastRun = s.lastRun;
      this.entries.set(def.name, e);
      if (this.started) this.arm(e, this.clock.now());
    }
  }

  /** Runs a schedule now, outside its timetable (its timetable is unchanged). */
  /** Holds a snapshot (never pruned) or, with reason null, releases it. The reason must say why. */
  async hold(volume: string, snapshot: string, reason: string | null): Promise<void> {
    if (reason !== null && reason.trim() === '') throw new ScheduleError('*', 'hold', 'a hold needs a reason');
    const snaps = await this.store.listSnapshots(volume);
    if (!snaps.some((s) => s.name === snapshot)) throw new UnknownSnapshotError(volume, snapshot);
    await this.store.setHold(volume, snapshot, reason === null ? null : reason.trim());
  }

  runNow(name: string): Promise<RunRecord> {
    const e = this.entry(name);
    return this.enqueue(() => this.run(e, this.clock.now(), 'manual'));
  }

  /** Retention for one or all schedules and volumes; deletes what it prunes unless dryRun. */
  gc(opts: { schedule?: string; volume?: string; dryRun: boolean }): Promise<GcVolumeResult[]> {
    const entries = opts.schedule ? [this.entry(opts.schedule)] : [...this.entries.values()];
    return this.enqueue(async () => {
      const out: GcVolumeResult[] = [];
      const all = await this.store.listVolumes();
      if (opts.volume && !all.some((v) => v.name === opts.volume)) throw new UnknownVolumeError(opts.volume);
      for (const e of entries) {
        for (const volume of selectVolumes(e.def.volumes, all).volumes) {
          if (opts.volume && volume !== opts.volume) continue;
          out.push(await this.gcVolume(e.def, volume, opts.dryRun));
        }
      }
      return out;
    });
  }

  /** Newest snapshot of every volume (or the named ones), for `check snapshots`. */
  async freshness(
    volumes?: readonly string[],
  ): Promise<{ now: number; volumes: VolumeFreshness[]; unknown: string[] }> {
    const all = await this.store.listVolumes();
    const known = new Set(all.map((v) => v.name));
    // each volume once: a caller (anyone may call) that names one volume 5000 times must not cost 5000 listings
    const names = [...new Set(volumes && volumes.length > 0 ? volumes : known)];
    const unknown = names.filter((n) => !known.has(n));
    const out: VolumeFreshness[] = [];
    for (const name of names) {
      if (!known.has(name)) continue;
      const snaps = await this.store.listSnapshots(name);
      out.push({
        volume: name,
        count: snaps.length,
        newest: snaps.length ? Math.max(...snaps.map((s) => s.createdAt)) : null,
      });
    }
    return { now: this.clock.now(), volumes: out, unknown };
  }

  // ---------------------------------------------------------------------------------------------------------

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new UnknownScheduleError(name);
    return e;
  }

  private newEntry(def: ScheduleDef): Entry {
    return { def, nextNominal: null, nextDue: null, running: false };
  }

  private status(e: Entry): ScheduleStatus {
    const s: ScheduleStatus = {
      def: e.def,
      nextRun: e.nextDue,
      nextNominal: e.nextNominal,
      jitterOffsetMs: jitterOffset(this.hostId, e.def.name, e.def.jitterMs),
      running: e.running,
    };
    if (e.lastRun) s.lastRun = e.lastRun;
    return s;
  }

  private jitter(e: Entry): number {
    return jitterOffset(this.hostId, e.def.name, e.def.jitterMs);
  }

  /**
   * At start-up: if at least one nominal run fell between the last run and now, run ONCE (after the jitter
   * offset, so hosts rebooting together do not all fire at once), then continue with the timetable.
   */
  private armAtStart(e: Entry): void {
    if (!e.def.enabled) return;
    const now = this.clock.now();
    if (e.lastNominal !== undefined) {
      const missed = nextNominalRun(e.def, e.lastNominal);
      if (missed !== null && missed + this.jitter(e) <= now) {
        log().info(
          { schedule: e.def.name, missedSince: new Date(missed).toISOString() },
          'catching up missed run once',
        );
        this.setTimer(e, now, now + this.jitter(e), 'catch-up');
        return;
      }
    }
    this.arm(e, now);
  }

  /** Arms the timer for the first nominal run after `after`. */
  private arm(e: Entry, after: number): void {
    e.timer?.cancel();
    e.timer = undefined;
    e.nextNominal = null;
    e.nextDue = null;
    if (!e.def.enabled || !this.started) return;
    const j = this.jitter(e);
    // the jitter delays each run; a nominal instant whose jittered time is still ahead is not yet due
    let nominal = nextNominalRun(e.def, after - j);
    if (nominal !== null && e.lastNominal !== undefined && nominal <= e.lastNominal)
      nominal = nextNominalRun(e.def, e.lastNominal);
    if (nominal === null) return;
    this.setTimer(e, nominal, nominal + j, 'timer');
  }

  private setTimer(e: Entry, nominal: number, due: number, trigger: RunTrigger): void {
    e.nextNominal = nominal;
    e.nextDue = due;
    e.timer = this.clock.setTimer(due - this.clock.now(), () => {
      e.timer = undefined;
      void this.enqueue(async () => {
        try {
          await this.run(e, nominal, trigger);
        } finally {
          // re-armed inside the queued job, so idle() means "ran and re-armed"
          if (this.entries.get(e.def.name) === e) this.arm(e, Math.max(this.clock.now(), nominal));
        }
      }).catch((err: unknown) =>
        log().error({ schedule: e.def.name, err: (err as Error).message }, 'schedule run failed'),
      );
    });
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++;
    const p = this.queue.then(fn, fn);
    this.queue = p.then(
      () => void this.pending--,
      () => void this.pending--,
    );
    return p;
  }

  private async run(e: Entry, nominal: number, trigger: RunTrigger): Promise<RunRecord> {
    const def = e.def;
    const startedAt = this.clock.now();
    e.running = true;
    const volumes: VolumeRunRecord[] = [];
    try {
      const all = await this.store.listVolumes();
      const sel = selectVolumes(def.volumes, all);
      for (const u of sel.unknown)
        volumes.push({ volume: u, outcome: 'failed', reason: 'unknown volume', warnings: [], hooks: [], pruned: [] });
      for (const volume of sel.volumes) volumes.push(await this.runVolume(def, volume));
    } catch (err) {
      volumes.push({
        volume: '*',
        outcome: 'failed',
        reason: `cannot list volumes: ${(err as Error).message}`,
        warnings: [],
        hooks: [],
        pruned: [],
      });
    } finally {
      e.running = false;
    }
    const { outcome, summary } = summarize(volumes);
    const record: RunRecord = {
      schedule: def.name,
      trigger,
      nominal,
      startedAt,
      finishedAt: this.clock.now(),
      outcome,
      summary,
      volumes,
    };
    if (trigger !== 'manual')
      e.lastNominal = Math.max(e.lastNominal ?? nominal, nominal, trigger === 'catch-up' ? startedAt : nominal);
    e.lastRun = record;
    if (this.entries.get(def.name) === e) this.saveState();
    const level = outcome === 'ok' ? 'info' : outcome === 'partial' || outcome === 'skipped' ? 'warn' : 'error';
    log()[level]({ schedule: def.name, trigger, outcome, summary }, 'schedule run');
    this.opts.onRunFinished?.(record);
    return record;
  }

  private async runVolume(def: ScheduleDef, volume: string): Promise<VolumeRunRecord> {
    const rec: VolumeRunRecord = { volume, outcome: 'failed', warnings: [], hooks: [], pruned: [] };
    try {
      // 1. free-space guard
      if (def.minFreePercent !== undefined) {
        const low = await this.freeSpaceGuard(def, volume, rec);
        if (low) {
          rec.outcome = 'skipped';
          rec.reason = low;
          return rec;
        }
      }
      const existing = await this.store.listSnapshots(volume);
      const name = snapshotName(def.name, this.clock.now(), new Set(existing.map((s) => s.name)));
      const env = { STAS_VOLUME: volume, STAS_SNAPSHOT: name, STAS_SCHEDULE: def.name };
      // 2. pre hook
      let preRan = false;
      if (def.preHook) {
        preRan = true;
        const r = await this.hook('pre', def, env);
        rec.hooks.push(r);
        if (!r.ok) {
          const why = describeHookFailure(r);
          if (def.onFailure === 'abort') {
            rec.outcome = 'aborted';
            rec.reason = `${why} (on-failure=abort: no snapshot taken)`;
            await this.postHook(def, env, rec);
            return rec;
          }
          rec.warnings.push(`${why} (on-failure=warn: snapshot taken anyway)`);
        }
      }
      // 3. the snapshot
      try {
        await this.store.createSnapshot(volume, name, { createdBy: def.name });
        rec.outcome = 'created';
        rec.snapshot = name;
      } catch (err) {
        rec.outcome = 'failed';
        rec.reason = `snapshot ${name} could not be created: ${(err as Error).message}`;
      }
      // 4. post hook: runs whenever the pre hook ran (so a "thaw" follows every "freeze") or there is none
      if (preRan || rec.outcome === 'created') await this.postHook(def, env, rec);
      // 5. retention
      if (rec.outcome === 'created') {
        const gc = await this.gcVolume(def, volume, false);
        for (const d of gc.decisions)
          if (!d.keep && gc.deleted.includes(d.snapshot.name))
            rec.pruned.push({ snapshot: d.snapshot.name, rule: d.rules.join('; ') });
        for (const err of gc.errors) rec.warnings.push(err);
      }
    } catch (err) {
      rec.outcome = 'failed';
      rec.reason = (err as Error).message;
    }
    return rec;
  }

  private async postHook(
    def: ScheduleDef,
    env: { STAS_VOLUME: string; STAS_SNAPSHOT: string; STAS_SCHEDULE: string },
    rec: VolumeRunRecord,
  ): Promise<void> {
    if (!def.postHook) return;
    const r = await this.hook('post', def, env);
    rec.hooks.push(r);
    if (!r.ok) rec.warnings.push(describeHookFailure(r));
  }

  private async hook(
    phase: 'pre' | 'post',
    def: ScheduleDef,
    env: { STAS_VOLUME: string; STAS_SNAPSHOT: string; STAS_SCHEDULE: string },
  ): Promise<HookResult> {
    const argv = phase === 'pre' ? def.preHook! : def.postHook!;
    const req = { phase, argv, timeoutMs: def.hookTimeoutMs, env };
    const r = await runHook(
      this.opts.hookOutputBytes !== undefined ? { ...req, maxOutputBytes: this.opts.hookOutputBytes } : req,
    );
    const fields = {
      schedule: def.name,
      volume: env.STAS_VOLUME,
      phase,
      argv,
      exitCode: r.exitCode,
      signal: r.signal,
      timedOut: r.timedOut,
      durationMs: r.durationMs,
      output: r.output,
      outputTruncated: r.outputTruncated,
    };
    if (r.ok) log().info(fields, 'hook finished');
    else log().warn(fields, describeHookFailure(r));
    return r;
  }

  /** Returns the reason to skip, or undefined when there is (now) enough room. */
  private async freeSpaceGuard(def: ScheduleDef, volume: string, rec: VolumeRunRecord): Promise<string | undefined> {
    const min = def.minFreePercent!;
    const pct = async (): Promise<number | undefined> => {
      const s = await this.store.poolSpace(volume);
      return s && s.totalBytes > 0 ? (s.freeBytes / s.totalBytes) * 100 : undefined;
    };
    let free = await pct();
    if (free === undefined || free >= min) return undefined;
    if (def.lowSpace === 'prune-oldest-first') {
      const candidates = pruneOldestFirstCandidates(await this.store.listSnapshots(volume), def.retention);
      for (const s of candidates) {
        await this.store.deleteSnapshot(volume, s.name);
        rec.pruned.push({
          snapshot: s.name,
          rule: `min-free: pool ${free.toFixed(1)}% free < ${min}%, pruned oldest first`,
        });
        free = await pct();
        if (free === undefined || free >= min) return undefined;
      }
    }
    return `pool has ${free.toFixed(1)}% free, below min-free=${min}%${def.lowSpace === 'prune-oldest-first' ? ' even after pruning every prunable snapshot' : ' (low-space=skip)'}`;
  }

  private async gcVolume(def: ScheduleDef, volume: string, dryRun: boolean): Promise<GcVolumeResult> {
    const snaps: SnapshotRef[] = await this.store.listSnapshots(volume);
    const decisions = planRetention(snaps, def.retention, this.clock.now());
    const deleted: string[] = [];
    const errors: string[] = [];
    if (!dryRun) {
      for (const d of decisions) {
        // the planner never prunes held or foreign snapshots; checked again here because this deletes data
        if (d.keep || d.snapshot.meta.hold !== undefined || d.snapshot.meta.createdBy !== def.name) continue;
        try {
          await this.store.deleteSnapshot(volume, d.snapshot.name);
          deleted.push(d.snapshot.name);
        } catch (err) {
          errors.push(`cannot prune ${d.snapshot.name}: ${(err as Error).message}`);
        }
      }
      if (deleted.length) log().info({ schedule: def.name, volume, deleted }, 'retention pruned snapshots');
    }
    return { schedule: def.name, volume, decisions, deleted, errors };
  }

  private readState(): PersistedState {
    try {
      const s = readJson(this.stateFile) as PersistedState | undefined;
      if (s && s.version === 1 && typeof s.schedules === 'object') return s;
    } catch (e) {
      log().error({ err: (e as Error).message }, 'schedule state unreadable; starting without it');
    }
    return { version: 1, schedules: {} };
  }

  private saveState(): void {
    const state: PersistedState = { version: 1, schedules: {} };
    for (const [name, e] of this.entries) {
      const s: PersistedState['schedules'][string] = {};
      if (e.lastNominal !== undefined) s.lastNominal = e.lastNominal;
      if (e.lastRun) s.lastRun = e.lastRun;
      state.schedules[name] = s;
    }
    try {
      writeJsonAtomic(this.stateFile, state);
    } catch (e) {
      log().error({ file: this.stateFile, err: (e as Error).message }, 'cannot save schedule state');
    }
  }

  private readDefs(): Record<string, Record<string, string>> {
    try {
      const d = readJson(this.defsFile) as PersistedDefs | undefined;
      if (d && d.version === 1 && typeof d.schedules === 'object') return d.schedules;
    } catch (e) {
      log().error({ err: (e as Error).message }, 'persisted schedules unreadable');
    }
    return {};
  }

  private saveDefs(): void {
    const out: PersistedDefs = { version: 1, schedules: {} };
    for (const [name, e] of this.entries) if (e.def.source.kind === 'runtime') out.schedules[name] = e.def.settings;
    writeJsonAtomic(this.defsFile, out);
  }
}

function toEntries(settings: Record<string, string>): SettingEntry[] {
  return Object.entries(settings).map(([key, value]) => ({ key, value }));
}
