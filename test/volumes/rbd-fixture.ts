// A volume service over the suite's Ceph cluster, isolated in its own rbd namespace (pool/namespace), with
// qemu-io data checks through librbd (`rbd:pool/ns/image[@snap]:conf=...`, package qemu-block-extra).
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { RbdBackend } from '../../daemons/volumes/rbd-backend.js';
import { VolumeService } from '../../daemons/volumes/service.js';
import { Journal } from '../../daemons/jobs/journal.js';
import { JobRunner } from '../../daemons/jobs/runner.js';
import type { CephCluster } from '../harness/ceph/index.js';

export interface RbdFixture {
  backend: RbdBackend;
  service: VolumeService;
  jobs: JobRunner;
  /** "pool/namespace" */
  cephPool: string;
  uri(image: string, snap?: string): string;
  env: Record<string, string>;
}

/** creates a fresh namespace in the cluster's pool */
export async function newNamespace(cluster: CephCluster): Promise<string> {
  const ns = `t${randomBytes(4).toString('hex')}`;
  await execa('rbd', ['-c', cluster.conf, '--id', cluster.id, 'namespace', 'create', `${cluster.pool}/${ns}`], {
    timeout: 60_000,
  });
  return `${cluster.pool}/${ns}`;
}

export async function openRbd(root: string, cluster: CephCluster, cephPool: string): Promise<RbdFixture> {
  const backend = new RbdBackend({ pool: 'ceph', cephPool, id: cluster.id, conf: cluster.conf });
  const journal = new Journal(join(root, 'state', 'journal'));
  const jobs = new JobRunner({ maxParallel: 4 });
  const service = new VolumeService([backend], journal, jobs);
  await service.open();
  return {
    backend,
    service,
    jobs,
    cephPool,
    uri: (image, snap) => `rbd:${cephPool}/${image}${snap ? `@${snap}` : ''}:conf=${cluster.conf}:id=${cluster.id}`,
    env: { STAS_TEST_RBD_CONF: cluster.conf, STAS_TEST_RBD_ID: cluster.id, STAS_TEST_RBD_POOL: cephPool },
  };
}

/** for crash-child: the cluster and namespace come from the parent through the environment */
export async function openRbdFromEnv(root: string): Promise<RbdFixture> {
  const conf = process.env.STAS_TEST_RBD_CONF;
  const id = process.env.STAS_TEST_RBD_ID;
  const pool = process.env.STAS_TEST_RBD_POOL;
  if (!conf || !id || !pool) throw new Error('STAS_TEST_RBD_CONF/ID/POOL not set');
  return openRbd(root, { conf, id, pool: pool.split('/')[0] }, pool);
}

/** removes every image (snapshots included) and the trash of a namespace, then the namespace */
export async function dropNamespace(cluster: CephCluster, cephPool: string): Promise<void> {
  const rbd = (args: string[]) =>
    execa('rbd', ['-c', cluster.conf, '--id', cluster.id, ...args], { timeout: 300_000, reject: false });
  for (let round = 0; round < 20; round++) {
    const ls = await rbd(['ls', '--format', 'json', cephPool]);
    const images = JSON.parse(String(ls.stdout || '[]')) as string[];
    if (images.length === 0) break;
    for (const img of images) {
      const snaps = JSON.parse(
        String((await rbd(['snap', 'ls', '--format', 'json', `${cephPool}/${img}`])).stdout || '[]'),
      ) as { name: string; protected: string }[];
      for (const s of snaps)
        if (s.protected === 'true') await rbd(['snap', 'unprotect', `${cephPool}/${img}@${s.name}`]);
      await rbd(['snap', 'purge', '--no-progress', `${cephPool}/${img}`]);
      await rbd(['rm', '--no-progress', `${cephPool}/${img}`]);
    }
  }
  await rbd(['trash', 'purge', '--no-progress', cephPool]);
  await rbd(['namespace', 'remove', cephPool]);
}

/** true when every byte of [off, off+len) of image[@snap] reads `pattern` */
export async function rbdReads(
  fx: RbdFixture,
  image: string,
  pattern: string,
  off: string,
  len: string,
  snap?: string,
): Promise<boolean> {
  const r = await execa('qemu-io', ['-r', '-f', 'raw', '-c', `read -P ${pattern} ${off} ${len}`, fx.uri(image, snap)], {
    reject: false,
    timeout: 600_000,
  });
  const ok = r.exitCode === 0 && !/Pattern verification failed/.test(String(r.stdout));
  if (!ok)
    process.stderr.write(
      `qemu-io read ${image}${snap ? `@${snap}` : ''} ${pattern} ${off}+${len}: exit ${r.exitCode}\n${String(r.stdout).slice(-500)}\n${String(r.stderr).slice(-500)}\n`,
    );
  return ok;
}

export async function rbdWrite(
  fx: RbdFixture,
  image: string,
  pattern: string,
  off: string,
  len: string,
): Promise<void> {
  await execa('qemu-io', ['-f', 'raw', '-c', `write -P ${pattern} ${off} ${len}`, fx.uri(image)], { timeout: 600_000 });
}
