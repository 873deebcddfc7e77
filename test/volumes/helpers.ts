// Shared fixtures for the volume tests: a service over real qcow2 files in a temp root, and data checks
// with qemu-io patterns (`read -P` exits non-zero on a mismatch).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Qcow2Backend } from '../../daemons/volumes/qcow2-backend.js';
import { VolumeService } from '../../daemons/volumes/service.js';
import { Journal } from '../../daemons/jobs/journal.js';
import { JobRunner } from '../../daemons/jobs/runner.js';
import type { Job } from '../../daemons/jobs/runner.js';

export interface Qcow2Fixture {
  root: string;
  backend: Qcow2Backend;
  service: VolumeService;
  jobs: JobRunner;
  journal: Journal;
  /** file of a volume, by name */
  file(name: string): string;
  cleanup(): Promise<void>;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `stas-${prefix}-`));
}

/** A service over one qcow2 pool rooted at `root` (a new temp dir unless given), journal under root/state. */
export async function openQcow2(root?: string, pool = 'default'): Promise<Qcow2Fixture> {
  const dir = root ?? (await tempDir('vol'));
  const backend = new Qcow2Backend({ pool, root: join(dir, 'data') });
  const journal = new Journal(join(dir, 'state', 'journal'));
  const jobs = new JobRunner({ maxParallel: 4 });
  const service = new VolumeService([backend], journal, jobs);
  await service.open();
  return {
    root: dir,
    backend,
    service,
    jobs,
    journal,
    file: (name) => backend.volumePath(backend.idOf(name)),
    cleanup: async () => {
      await jobs.drain();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** writes `pattern` over [off, off+len) of an image through qemu-io */
export async function qemuWrite(
  image: string,
  pattern: string,
  off: string,
  len: string,
  format = 'qcow2',
): Promise<void> {
  await execa('qemu-io', ['-f', format, '-c', `write -P ${pattern} ${off} ${len}`, image], { timeout: 600_000 });
}

/** true when every byte of [off, off+len) reads `pattern` */
export async function qemuReads(
  image: string,
  pattern: string,
  off: string,
  len: string,
  format = 'qcow2',
): Promise<boolean> {
  const r = await execa('qemu-io', ['-r', '-U', '-f', format, '-c', `read -P ${pattern} ${off} ${len}`, image], {
    reject: false,
    timeout: 600_000,
  });
  return r.exitCode === 0 && !/Pattern verification failed/.test(String(r.stdout));
}

/** reads an internal snapshot by exporting it to a temp image first (qemu-io cannot open one directly) */
export async function snapshotReads(
  image: string,
  snap: string,
  pattern: string,
  off: string,
  len: string,
): Promise<boolean> {
  const dir = await tempDir('snapread');
  try {
    const out = join(dir, 'snap.qcow2');
    await execa(
      'qemu-img',
      ['convert', '-U', '-l', `snapshot.name=${snap}`, '-f', 'qcow2', '-O', 'qcow2', image, out],
      { timeout: 600_000 },
    );
    return await qemuReads(out, pattern, off, len);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** waits for a job with a bound; returns it finished */
export async function finished(job: Job, timeoutMs = 300_000): Promise<Job> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(
      () => rej(new Error(`job ${job.id} (${job.operation}) still ${job.state} after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([job.wait(), t]);
  } finally {
    clearTimeout(timer);
  }
}

/** waits for a job and asserts it succeeded, returning its result */
export async function succeeded(job: Job, timeoutMs?: number): Promise<string> {
  const j = await finished(job, timeoutMs);
  if (j.state !== 'succeeded') throw new Error(`job ${j.operation} ${j.object} ${j.state}: ${j.errorCode} ${j.error}`);
  return j.result;
}
