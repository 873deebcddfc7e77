// The qemu-storage-daemon process: found through its QMP socket, started detached when nothing answers.
// Detached (--daemonize: own session, reparented to init) so that it outlives stacd; under systemd the
// stas-storage-daemon.service unit runs it instead, with the same socket paths, and stacd only connects.
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool } from '../tool.js';
import { QmpClient, QmpConnectionError } from './qmp.js';
import { BackendError } from '../errors.js';
import { log } from '../../common/log.js';

export interface DaemonPaths {
  dir: string;
  qmp: string;
  nbd: string;
  pid: string;
  /** FUSE export mountpoints (regular files) live here */
  fuse: string;
}

export function daemonPaths(runDir: string): DaemonPaths {
  return {
    dir: runDir,
    qmp: join(runDir, 'qmp.sock'),
    nbd: join(runDir, 'nbd.sock'),
    pid: join(runDir, 'qsd.pid'),
    fuse: join(runDir, 'fuse'),
  };
}

/** The command line both stacd and the systemd unit use (the unit spells out the same options). */
export function daemonArgs(p: DaemonPaths, daemonize: boolean): string[] {
  return [
    '--chardev',
    `socket,id=stas-qmp,path=${p.qmp},server=on,wait=off`,
    '--monitor',
    'chardev=stas-qmp',
    '--nbd-server',
    `addr.type=unix,addr.path=${p.nbd}`,
    '--pidfile',
    p.pid,
    ...(daemonize ? ['--daemonize'] : []),
  ];
}

/** pid of a live qemu-storage-daemon recorded in the pid file, or undefined */
export async function livePid(p: DaemonPaths): Promise<number | undefined> {
  const text = await readFile(p.pid, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
  return comm.startsWith('qemu-storage') ? pid : undefined;
}

/** A connection to the daemon when one answers on its socket; undefined when none runs. */
export async function connectIfRunning(p: DaemonPaths, timeoutMs = 30_000): Promise<QmpClient | undefined> {
  const c = await tryConnect(p, timeoutMs);
  if (c) return c;
  const pid = await livePid(p);
  if (pid !== undefined)
    throw new BackendError(`qemu-storage-daemon (pid ${pid}) runs but its QMP socket ${p.qmp} does not answer`);
  return undefined;
}

async function tryConnect(p: DaemonPaths, timeoutMs: number): Promise<QmpClient | undefined> {
  try {
    return await QmpClient.connect(p.qmp, { timeoutMs });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return undefined;
    throw e;
  }
}

export interface EnsureOptions {
  binary?: string;
  /** bound for start-up and for the QMP handshake */
  timeoutMs?: number;
}

/** Connects to the running daemon, starting one first when none runs. Returns the client and whether it started one. */
export async function ensureDaemon(
  p: DaemonPaths,
  opts: EnsureOptions = {},
): Promise<{ qmp: QmpClient; started: boolean }> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  await mkdir(p.dir, { recursive: true, mode: 0o750 });
  await mkdir(p.fuse, { recursive: true, mode: 0o750 });
  const existing = await tryConnect(p, timeoutMs);
  if (existing) return { qmp: existing, started: false };
  const pid = await livePid(p);
  if (pid !== undefined)
    // never start a second daemon beside a live one: it would take over the sockets of open volumes
    throw new BackendError(`qemu-storage-daemon (pid ${pid}) runs but its QMP socket ${p.qmp} does not answer`);
  log().info({ socket: p.qmp }, 'starting qemu-storage-daemon');
  await runTool(opts.binary ?? 'qemu-storage-daemon', daemonArgs(p, true), { timeoutMs, outlivesDaemon: true });
  const qmp = await tryConnect(p, timeoutMs);
  if (!qmp) throw new QmpConnectionError(`qemu-storage-daemon started but ${p.qmp} does not accept connections`);
  return { qmp, started: true };
}
