// A single-node Ceph cluster (1 mon, 1 mgr, 1 bluestore OSD on a sparse file, pool "rbd", size 1) for the
// rbd tests, booted ONCE per suite under <repo>/.test-state/ceph and reused while healthy. A lock directory
// keeps two test processes from bootstrapping at the same time. No systemd, no cephadm, no block devices;
// every daemon binds to 127.0.0.1 and daemonises itself with a pid file. stopCeph() (called by the suite
// cleanup) stops the daemons by pid file.
import { mkdir, readFile, rm, writeFile, readdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { testStateDir } from '../repo.js';
import { runChecked } from '../process.js';

export interface CephCluster {
  conf: string;
  pool: string;
  /** cephx client id (without "client.") */
  id: string;
}

const POOL = 'rbd';
const PG_NUM = 32;
const OSD_SIZE = 20 * 1024 ** 3;
/** A loopback address of this checkout's own (all of 127/8 is local): Ceph's fixed ports (3300, 6789, 68xx)
 *  then never collide with another checkout's cluster on the same machine. */
const MON_IP = ((): string => {
  const h = createHash('sha256').update(cephDir()).digest();
  return `127.${100 + (h[0]! % 100)}.${(h[1]! % 250) + 1}.${(h[2]! % 250) + 1}`;
})();

export function cephDir(): string {
  return join(testStateDir(), 'ceph');
}

function confPath(): string {
  return join(cephDir(), 'ceph.conf');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function ceph(args: string[], timeoutMs = 30_000, input?: string): Promise<string> {
  const r = await execa('ceph', ['-c', confPath(), '--connect-timeout', '10', ...args], {
    timeout: timeoutMs,
    input,
    reject: false,
  });
  if (r.exitCode !== 0) throw new Error(`ceph ${args.join(' ')}: exit ${r.exitCode}: ${String(r.stderr).trim()}`);
  return String(r.stdout);
}

async function pidAlive(pidFile: string): Promise<boolean> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (!pid) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** the daemons run and the cluster answers with the pool present and the OSD up */
async function healthy(): Promise<boolean> {
  const run = join(cephDir(), 'run');
  if (!existsSync(confPath())) return false;
  for (const d of ['ceph-mon.a.pid', 'ceph-osd.0.pid']) if (!(await pidAlive(join(run, d)))) return false;
  try {
    const osd = JSON.parse(await ceph(['osd', 'stat', '-f', 'json'], 15_000)) as { num_up_osds: number };
    if (osd.num_up_osds < 1) return false;
    const pools = JSON.parse(await ceph(['osd', 'pool', 'ls', '-f', 'json'], 15_000)) as string[];
    return pools.includes(POOL);
  } catch {
    return false;
  }
}

function configText(dir: string, fsid: string): string {
  return `[global]
fsid = ${fsid}
mon initial members = a
mon host = [v2:${MON_IP}:3300,v1:${MON_IP}:6789]
public addr = ${MON_IP}
cluster addr = ${MON_IP}
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = ${dir}/run
pid file = ${dir}/run/$cluster-$name.pid
log file = ${dir}/log/$cluster-$name.log
crash dir = ${dir}/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon allow pool delete = true
osd crush chooseleaf type = 0
mon data avail warn = 5
mon data avail crit = 1
rbd default format = 2
rbd default features = layering,exclusive-lock,object-map,fast-diff,deep-flatten

[client]
keyring = ${dir}/ceph.client.admin.keyring
# many concurrent CLI/librbd clients: one admin socket per process (a shared one collides)
admin socket = ${dir}/run/$cluster-$name.$pid.$cctid.asok
log file = ${dir}/log/client.log

[mon]
admin socket = ${dir}/run/$cluster-$name.asok
mon data = ${dir}/mon/$cluster-$id

[mgr]
admin socket = ${dir}/run/$cluster-$name.asok
mgr data = ${dir}/mgr/$cluster-$id
keyring = ${dir}/mgr/$cluster-$id/keyring

[osd]
admin socket = ${dir}/run/$cluster-$name.asok
osd data = ${dir}/osd/$cluster-$id
keyring = ${dir}/osd/$cluster-$id/keyring
osd objectstore = bluestore
bluestore block create = true
bluestore block size = ${OSD_SIZE}
bluestore fsck on mkfs = false
osd memory target = 1073741824
osd crush update on start = true
`;
}

function run(cmd: string, args: string[], timeoutMs = 60_000, input?: string): Promise<string> {
  return runChecked(cmd, args, { timeoutMs, ...(input !== undefined ? { input } : {}) });
}

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe().catch(() => false)) return;
    await sleep(500);
  }
  throw new Error(`ceph harness: ${what} not reached within ${timeoutMs} ms (logs in ${cephDir()}/log)`);
}

async function bootstrap(): Promise<void> {
  const dir = cephDir();
  await stopDaemons();
  await rm(dir, { recursive: true, force: true });
  for (const d of ['run', 'log', 'crash', 'mon', 'mgr/ceph-x', 'osd/ceph-0', 'tmp'])
    await mkdir(join(dir, d), { recursive: true });
  const fsid = randomUUID();
  const conf = confPath();
  await writeFile(conf, configText(dir, fsid));
  const monKeyring = join(dir, 'tmp', 'mon.keyring');
  const adminKeyring = join(dir, 'ceph.client.admin.keyring');
  await run('ceph-authtool', ['--create-keyring', monKeyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
  await run('ceph-authtool', [
    '--create-keyring',
    adminKeyring,
    '--gen-key',
    '-n',
    'client.admin',
    '--cap',
    'mon',
    'allow *',
    '--cap',
    'osd',
    'allow *',
    '--cap',
    'mgr',
    'allow *',
    '--cap',
    'mds',
    'allow *',
  ]);
  await run('ceph-authtool', [monKeyring, '--import-keyring', adminKeyring]);
  const monmap = join(dir, 'tmp', 'monmap');
  await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:${MON_IP}:3300,v1:${MON_IP}:6789]`, monmap]);
  await run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', monKeyring]);
  await run('ceph-mon', ['-c', conf, '-i', 'a']);
  await until('monitor answering', 60_000, async () => (await ceph(['mon', 'stat'], 10_000)).length > 0);
  await ceph(['osd', 'set-require-min-compat-client', 'mimic', '--yes-i-really-mean-it']).catch(() =>
    ceph(['osd', 'set-require-min-compat-client', 'mimic']),
  );
  await ceph(['config', 'set', 'mon', 'auth_allow_insecure_global_id_reclaim', 'false']);
  await ceph([
    'auth',
    'get-or-create',
    'mgr.x',
    'mon',
    'allow profile mgr',
    'osd',
    'allow *',
    'mds',
    'allow *',
    '-o',
    join(dir, 'mgr', 'ceph-x', 'keyring'),
  ]);
  await run('ceph-mgr', ['-c', conf, '-i', 'x']);
  const uuid = randomUUID();
  const secret = (await run('ceph-authtool', ['--gen-print-key'])).trim();
  const id = (await ceph(['osd', 'new', uuid, '-i', '-'], 30_000, JSON.stringify({ cephx_secret: secret }))).trim();
  if (id !== '0') throw new Error(`ceph harness: expected osd id 0, got "${id}"`);
  const osdDir = join(dir, 'osd', 'ceph-0');
  await run('ceph-authtool', ['--create-keyring', join(osdDir, 'keyring'), '--name', 'osd.0', '--add-key', secret]);
  await run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', uuid], 180_000);
  await run('ceph-osd', ['-c', conf, '-i', '0']);
  await until(
    'OSD up',
    120_000,
    async () => (JSON.parse(await ceph(['osd', 'stat', '-f', 'json'])) as { num_up_osds: number }).num_up_osds >= 1,
  );
  await ceph(['osd', 'pool', 'create', POOL, String(PG_NUM), String(PG_NUM), 'replicated'], 60_000);
  await ceph(['osd', 'pool', 'set', POOL, 'size', '1', '--yes-i-really-mean-it']).catch(() => undefined);
  await run('rbd', ['-c', conf, 'pool', 'init', POOL], 120_000);
  await until(
    'placement groups active',
    120_000,
    async () =>
      /active\+clean/.test(await ceph(['pg', 'stat'])) && !/peering|creating|unknown/.test(await ceph(['pg', 'stat'])),
  );
}

/** Takes the bootstrap lock (a directory: mkdir is atomic); a lock whose owner died is broken. */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  await mkdir(testStateDir(), { recursive: true });
  const lock = join(testStateDir(), 'ceph.lock');
  const end = Date.now() + 600_000;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => '0'));
      let alive = false;
      try {
        if (owner) process.kill(owner, 0);
        alive = owner > 0;
      } catch {
        alive = false;
      }
      const age =
        Date.now() -
        (await stat(lock)
          .then((s) => s.mtimeMs)
          .catch(() => Date.now()));
      if (!alive && age > 2000) await rm(lock, { recursive: true, force: true });
      else if (Date.now() > end) throw new Error(`ceph harness: lock ${lock} held by pid ${owner} for too long`);
      else await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** The suite's Ceph cluster: reused when healthy, bootstrapped (about 20-40 s) otherwise. */
export async function ensureCeph(): Promise<CephCluster> {
  for (const tool of ['ceph-mon', 'ceph-osd', 'ceph-mgr', 'rbd', 'monmaptool', 'ceph-authtool']) {
    const r = await execa('which', [tool], { reject: false });
    if (r.exitCode !== 0)
      throw new Error(`ceph harness: ${tool} is not installed (run test/harness/install-deps.sh as root)`);
  }
  return withLock(async () => {
    if (!(await healthy())) await bootstrap();
    return { conf: confPath(), pool: POOL, id: 'admin' };
  });
}

async function stopDaemons(): Promise<string[]> {
  const runDir = join(cephDir(), 'run');
  if (!existsSync(runDir)) return [];
  const files = (await readdir(runDir)).filter((f) => f.endsWith('.pid'));
  // OSDs first, the monitor last (as ceph-stop.sh)
  const order = (f: string): number => (f.startsWith('ceph-osd') ? 0 : f.startsWith('ceph-mgr') ? 1 : 2);
  const stopped: string[] = [];
  for (const f of files.sort((a, b) => order(a) - order(b))) {
    const pid = Number((await readFile(join(runDir, f), 'utf8').catch(() => '')).trim());
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 100; i++) {
          process.kill(pid, 0);
          await sleep(100);
        }
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      stopped.push(f.replace(/\.pid$/, ''));
    }
    await rm(join(runDir, f), { force: true });
  }
  return stopped;
}

/** Stops the cluster's daemons (by pid file only); the state stays for inspection. */
export async function stopCeph(): Promise<string[]> {
  const stopped = await stopDaemons();
  if (stopped.length > 0) process.stderr.write(`[cleanup] stopped Ceph daemons: ${stopped.join(', ')}\n`);
  return stopped;
}
