// The D-Bus face of the scheduler: org.nvmexpress.stac.Schedule1 at /org/nvmexpress/stac/schedules,
// exported from the XML in dbus-interfaces/ by the shared D-Bus layer. A thin adapter: no logic here.
import type { MessageBus } from '../../dbus/bus.js';
import { ExportedObject } from '../../dbus/exported-object.js';
import { interfaceFile } from '../../dbus/interfaces-dir.js';
import type { SnapshotScheduler, RunRecord } from '../scheduler.js';
import { storageReadLimiter } from '../../volumes/dbus/storage-objects.js';
import { toDict, scheduleRecord, runRecord, gcRecord, freshnessRecord, type Dict } from './serialize.js';

export const SCHEDULE_IFACE = 'org.nvmexpress.stac.Schedule1';
export const SCHEDULES_PATH = '/org/nvmexpress/stac/schedules';

export interface ScheduleObject {
  object: ExportedObject;
  /** emits RunFinished; wire it to SchedulerOptions.onRunFinished */
  runFinished(run: RunRecord): void;
}

export function exportScheduleObject(bus: MessageBus, scheduler: SnapshotScheduler): ScheduleObject {
  const object = ExportedObject.create(bus, SCHEDULES_PATH, interfaceFile(SCHEDULE_IFACE), {
    [SCHEDULE_IFACE]: {
      methods: {
        ListSchedules: (): Dict[] => scheduler.list().map((s) => toDict(scheduleRecord(s, false))),
        GetSchedule: (name: string): Dict => toDict(scheduleRecord(scheduler.get(name), true)),
        AddSchedule: async (name: string, settings: Record<string, string>): Promise<Dict> =>
          toDict(scheduleRecord(await scheduler.add(name, settings), true)),
        RemoveSchedule: (name: string): void => scheduler.remove(name),
        RunNow: async (name: string): Promise<Dict> => toDict(runRecord(await scheduler.runNow(name))),
        PlanRetention: async (schedule: string, volume: string): Promise<Dict[]> =>
          (
            await storageReadLimiter.run(() =>
              scheduler.gc({ ...(schedule ? { schedule } : {}), ...(volume ? { volume } : {}), dryRun: true }),
            )
          ).map((g) => toDict(gcRecord(g))),
        CollectGarbage: async (schedule: string, volume: string): Promise<Dict[]> =>
          (await scheduler.gc({ ...(schedule ? { schedule } : {}), ...(volume ? { volume } : {}), dryRun: false })).map(
            (g) => toDict(gcRecord(g)),
          ),
        HoldSnapshot: async (volume: string, snapshot: string, reason: string): Promise<void> =>
          scheduler.hold(volume, snapshot, reason),
        ReleaseSnapshot: async (volume: string, snapshot: string): Promise<void> =>
          scheduler.hold(volume, snapshot, null),
        SnapshotFreshness: async (volumes: string[]): Promise<[bigint, Dict[], string[]]> => {
          const f = await storageReadLimiter.run(() => scheduler.freshness(volumes));
          return [BigInt(f.now), f.volumes.map((v) => toDict(freshnessRecord(v))), f.unknown];
        },
      },
    },
  });
  return {
    object,
    runFinished: (run) => object.emitSignal(SCHEDULE_IFACE, 'RunFinished', run.schedule, run.outcome, run.summary),
  };
}
