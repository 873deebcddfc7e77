// Schedules against real qcow2 files: the VolumeService over qemu-img, adapted to the SnapshotStore.
// Checks with `qemu-img snapshot -l` that a schedule makes and prunes real internal snapshots, that a failing
// abort hook prevents the snapshot, and that a held snapshot survives GC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execa } from 'execa';
import { openQcow2 } from '../volumes/helpers.js';
import { ManualClock, flushAsync } from '../../daemons/schedules/clock.js';
import { SnapshotScheduler } from '../../daemons/schedules/scheduler.js';
import { VolumeServiceStore } from '../../daemons/volumes/schedule-snapshot-store.js';
import { def, HOUR } from './helpers.js';

/** Internal snapshot names of a qcow2 file, as qemu-img lists them. */
async function qemuSnapshots(file: string): Promise<string[]> {
  const r = await execa('qemu-img', ['snapshot', '-l', '-U', file], { timeout: 30_000 });
  // header lines: "Snapshot list:" and "ID  TAG  VM SIZE  DATE ..."; then one line per snapshot
  return r.stdout
    .split('\n')
    .slice(2)
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/)[1]!)
    .sort();
}

test(
  'a schedule makes and prunes real qcow2 snapshots; a held one survives; an abort hook prevents one',
  { timeout: 120_000 },
  async (t) => {
    const fx = await openQcow2();
    t.after(() => fx.cleanup());
    await fx.service.createVolume({ name: 'db', size: 64 << 20 });
    await fx.service.createVolume({ name: 'web', size: 64 << 20 });

    const start = Math.ceil(Date.now() / HOUR) * HOUR - 1000;
    const clock = new ManualClock(start);
    const store = new VolumeServiceStore(fx.service, clock, join(fx.root, 'state', 'snapshot-meta.json'));
    const scheduler = new SnapshotScheduler({
      store,
      clock,
      stateDir: join(fx.root, 'state'),
      configSchedules: [
        def('hourly', { volumes: 'db', calendar: 'hourly', 'keep-hourly': '3' }),
        def('guarded', {
          volumes: 'web',
          calendar: 'hourly',
          'pre-hook': `/bin/sh -c 'echo cannot quiesce >&2; exit 3'`,
          'on-failure': 'abort',
        }),
      ],
    });
    const settle = async (): Promise<void> => {
      await scheduler.idle();
      await flushAsync();
    };
    scheduler.start();
    await clock.advanceTo(start + 2 * HOUR, settle); // two runs
    const first = await qemuSnapshots(fx.file('db'));
    assert.equal(first.length, 2);
    const toHold = first[0]!;
    await store.setHold('db', toHold, 'pre-upgrade copy');
    // a manual snapshot is never the schedule's to prune
    await fx.service.createSnapshot('db', 'manual-keep');

    await clock.advanceTo(start + 6 * HOUR, settle); // four more runs
    await scheduler.stop();

    const names = await qemuSnapshots(fx.file('db'));
    const expectedAuto = [2, 3, 4, 5, 6].map(
      (h) =>
        `auto-hourly-${new Date(start + 1000 + (h - 1) * HOUR)
          .toISOString()
          .replace(/[-:]/g, '')
          .replace(/\.\d+Z$/, 'Z')}`,
    );
    // 6 runs, keep-hourly=3 → the 3 newest auto snapshots + the held one + the manual one
    assert.deepEqual(names, [...new Set([toHold, ...expectedAuto.slice(-3), 'manual-keep'])].sort());
    assert.ok(names.includes(toHold), 'held snapshot survives GC');
    assert.equal(names.filter((n) => n.startsWith('auto-hourly-')).length, 4);

    // explain on the real files: every snapshot with its rule
    const [plan] = await scheduler.gc({ schedule: 'hourly', volume: 'db', dryRun: true });
    const rule = (n: string): string => plan!.decisions.find((d) => d.snapshot.name === n)!.rules.join('; ');
    assert.match(rule(toHold), /^hold: pre-upgrade copy/);
    assert.match(rule('manual-keep'), /^not-created-by-schedule: manual snapshot/);
    assert.match(rule(expectedAuto.at(-1)!), /^keep-hourly: newest in .* \(1 of 3\)/);

    // the abort hook kept every snapshot off "web", and says why
    assert.deepEqual(await qemuSnapshots(fx.file('web')), []);
    const last = scheduler.get('guarded').lastRun!;
    assert.equal(last.volumes[0]!.outcome, 'aborted');
    assert.match(
      last.volumes[0]!.reason!,
      /^pre-hook \/bin\/sh exited with code 3: cannot quiesce \(on-failure=abort: no snapshot taken\)$/,
    );

    // releasing the hold lets the next GC prune it from the qcow2 file
    await store.setHold('db', toHold, null);
    const [gc] = await scheduler.gc({ schedule: 'hourly', volume: 'db', dryRun: false });
    assert.deepEqual(gc!.deleted, [toHold]);
    assert.ok(!(await qemuSnapshots(fx.file('db'))).includes(toHold));
  },
);
