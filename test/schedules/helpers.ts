// Shared helpers of the schedules tests: a throw-away state directory (on tmpfs when there is one, because a
// simulated year persists state thousands of times) and a scheduler wired to a ManualClock and a MemoryStore.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ManualClock, flushAsync } from '../../daemons/schedules/clock.js';
import { SnapshotScheduler, type RunRecord } from '../../daemons/schedules/scheduler.js';
import { parseSchedule, type ScheduleDef } from '../../daemons/schedules/schedule-def.js';
import { MemoryStore } from './memory-store.js';

export function tempStateDir(t: { after(fn: () => void): void }): string {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, 'stas-schedules-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function def(name: string, settings: Record<string, string>): ScheduleDef {
  return parseSchedule(
    name,
    Object.entries(settings).map(([key, value]) => ({ key, value })),
    { kind: 'config', file: 'test.conf', line: 1 },
  );
}

export interface Rig {
  clock: ManualClock;
  store: MemoryStore;
  scheduler: SnapshotScheduler;
  runs: RunRecord[];
  stateDir: string;
  /** advances simulated time, letting each run finish before the next timer fires */
  advanceTo(t: number): Promise<void>;
  /** a second scheduler on the same state dir and store (a restart of stacd) */
  restart(schedules: ScheduleDef[]): SnapshotScheduler;
}

export function rig(
  t: { after(fn: () => void): void },
  start: number,
  schedules: ScheduleDef[],
  opts: { hostId?: string; stateDir?: string } = {},
): Rig {
  const clock = new ManualClock(start);
  const store = new MemoryStore(clock);
  const stateDir = opts.stateDir ?? tempStateDir(t);
  const runs: RunRecord[] = [];
  const make = (defs: ScheduleDef[]): SnapshotScheduler =>
    new SnapshotScheduler({
      store,
      clock,
      stateDir,
      hostId: opts.hostId ?? 'host-a',
      configSchedules: defs,
      onRunFinished: (r) => runs.push(r),
    });
  const r: Rig = {
    clock,
    store,
    scheduler: make(schedules),
    runs,
    stateDir,
    advanceTo: (target) =>
      clock.advanceTo(target, async () => {
        await r.scheduler.idle();
        await flushAsync();
      }),
    restart: (defs) => {
      r.scheduler = make(defs);
      return r.scheduler;
    },
  };
  return r;
}

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
