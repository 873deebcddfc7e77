// Volume figures on real qcow2 files: snapshot create latency, thin clone time, flatten throughput of
// 1 GiB of written data against `cp` of the same bytes in the same run (the ratio is the figure), and
// D-Bus GetManagedObjects with 1,000 volumes (the adapter over the simulated engine, so that the figure
// is the D-Bus layer's and not 1,000 qemu-img calls).
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Qcow2Backend } from '../daemons/volumes/qcow2-backend.js';
import { VolumeService } from '../daemons/volumes/service.js';
import { Journal } from '../daemons/jobs/journal.js';
import { JobRunner, type Job } from '../daemons/jobs/runner.js';
import { SimBackend } from '../daemons/volumes/sim-backend.js';
import { GiB, formatSize } from '../daemons/volumes/size.js';
import { StorageDBus, STORAGE_PATH } from '../daemons/volumes/dbus/storage-objects.js';
import { connectSystemBus, waitConnected, requestBusName, callMethod } from '../daemons/dbus/bus.js';
import { startPrivateBus } from '../test/harness/bus.js';

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `median ${q(0.5).toFixed(1)} ms, p95 ${q(0.95).toFixed(1)} ms, n=${s.length}`;
}
async function done(job: Job): Promise<void> {
  const j = await job.wait();
  if (j.state !== 'succeeded') throw new Error(`${j.operation}: ${j.state} ${j.error}`);
}

async function qcow2Figures(dir: string): Promise<void> {
  const backend = new Qcow2Backend({ pool: 'bench', root: join(dir, 'data') });
  const jobs = new JobRunner();
  const service = new VolumeService([backend], new Journal(join(dir, 'journal')), jobs);
  await service.open();
  await service.createVolume({ name: 'src', size: 4 * GiB });
  const src = backend.volumePath(backend.idOf('src'));
  // 1 GiB of written data (qemu-io requests stay below 2 GiB)
  await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xab 0 1G', src], { timeout: 600_000 });

  const snaps: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = process.hrtime.bigint();
    await service.createSnapshot('src', `b${i}`);
    snaps.push(ms(t0));
  }
  console.log(`snapshot create (service: journal + qemu-img snapshot -c, 1 GiB data): ${stats(snaps)}`);
  for (let i = 0; i < 20; i++) await service.deleteSnapshot('src', `b${i}`);

  await service.createSnapshot('src', 'gold');
  let t0 = process.hrtime.bigint();
  await service.protectSnapshot('src', 'gold');
  console.log(`protect (materialise the 1 GiB base): ${ms(t0).toFixed(0)} ms`);

  const clones: number[] = [];
  for (let i = 0; i < 10; i++) {
    t0 = process.hrtime.bigint();
    await done(await service.clone({ volume: 'src', snapshot: 'gold', target: `c${i}` }));
    clones.push(ms(t0));
  }
  console.log(`thin clone (job: overlay on the base): ${stats(clones)}`);

  t0 = process.hrtime.bigint();
  await done(await service.flatten('c0'));
  const flattenMs = ms(t0);
  const base = join(dir, 'data', 'bases', `${backend.idOf('src')}@gold.qcow2`);
  const baseBytes = (await stat(base)).size;
  t0 = process.hrtime.bigint();
  await execa('cp', [base, join(dir, 'copy.qcow2')], { timeout: 600_000 });
  await execa('sync', [join(dir, 'copy.qcow2')]);
  const cpMs = ms(t0);
  const mibps = (x: number): string => (GiB / 1024 ** 2 / (x / 1000)).toFixed(0);
  console.log(
    `flatten of a thin clone (1 GiB from its parent): ${flattenMs.toFixed(0)} ms = ${mibps(flattenMs)} MiB/s`,
  );
  console.log(
    `cp of the same bytes (the base, ${formatSize(baseBytes)}) + sync: ${cpMs.toFixed(0)} ms = ${mibps(cpMs)} MiB/s`,
  );
  console.log(`flatten / cp time ratio: ${(flattenMs / cpMs).toFixed(2)}`);
  await jobs.drain();
}

async function dbusFigures(): Promise<void> {
  const bus = await startPrivateBus();
  const prevAddr = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  process.env.DBUS_SYSTEM_BUS_ADDRESS = bus.address;
  const dir = await mkdtemp(join(tmpdir(), 'stas-bench-dbus-'));
  const server = connectSystemBus();
  const client = connectSystemBus();
  let adapter: StorageDBus | undefined;
  try {
    await waitConnected(server);
    await requestBusName(server, 'org.nvmexpress.stac');
    const jobs = new JobRunner();
    const service = new VolumeService([new SimBackend('mem')], new Journal(join(dir, 'journal')), jobs);
    await service.open();
    for (let i = 0; i < 1000; i++) await service.createVolume({ name: `vol${i}`, size: GiB });
    adapter = new StorageDBus(server, service, jobs);
    let t0 = process.hrtime.bigint();
    await adapter.start();
    console.log(`export 1,000 volume objects: ${ms(t0).toFixed(0)} ms`);
    await waitConnected(client);
    const times: number[] = [];
    let count = 0;
    for (let i = 0; i < 10; i++) {
      t0 = process.hrtime.bigint();
      const [objs] = await callMethod(
        client,
        {
          destination: 'org.nvmexpress.stac',
          path: STORAGE_PATH,
          interface: 'org.freedesktop.DBus.ObjectManager',
          member: 'GetManagedObjects',
        },
        60_000,
      );
      times.push(ms(t0));
      count = Object.keys(objs as object).length;
    }
    console.log(`GetManagedObjects with ${count} objects: ${stats(times)}`);
  } finally {
    adapter?.stop();
    client.disconnect();
    server.disconnect();
    await bus.stop();
    await rm(dir, { recursive: true, force: true });
    if (prevAddr === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = prevAddr;
  }
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'stas-bench-vol-'));
  try {
    await qcow2Figures(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await dbusFigures();
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/.*\//, ''));
if (isMain) await run();
