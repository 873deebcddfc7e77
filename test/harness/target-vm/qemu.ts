// Launching, watching and stopping one QEMU (TCG) VM. KVM does not work on these machines (the guest hangs after
// "Probing EDD"), so TCG it is. The VM daemonizes; its pid, console log and HMP monitor socket live in its state dir.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { pidAlive } from './lock.js';

export interface Forward {
  hostPort: number;
  guestPort: number;
}

export interface QemuSpec {
  name: string;
  dir: string;
  kernel: string;
  initramfs: string;
  memMiB: number;
  /** TCG translation cache (MiB); QEMU's default of 1 GiB lets RSS grow a lot in the host VM. */
  tbMiB?: number;
  /** vCPUs, default 1 (TCG is multi-threaded, but the host has only 2 cores). */
  smp?: number;
  /** Guest eth0 address (user networking: forwards go to this address). */
  guestIp: string;
  forwards: Forward[];
  /** NAME=value words for the guest /init (kernel command line, no spaces in values). */
  guestEnv: Record<string, string>;
  /** A second NIC on this tap device (root namespace, must exist); the guest sees it as eth1. */
  tap?: string;
  /** 9p shares: [mount_tag, host path, readonly]. */
  shares?: Array<{ tag: string; path: string; readonly: boolean }>;
}

export const consolePath = (dir: string): string => join(dir, 'console.log');
export const pidPath = (dir: string): string => join(dir, 'pid');
export const monitorPath = (dir: string): string => join(dir, 'monitor.sock');

/** Free TCP ports on 127.0.0.1 (bound and released at once; QEMU binds them right after). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === 'string') throw new Error('freePorts: no address');
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** The pid from the pid file if that process is alive and is the QEMU of this state dir. */
export function runningPid(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidPath(dir), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!pidAlive(pid)) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('qemu-system') || !cmdline.includes(pidPath(dir))) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

export function consoleTail(dir: string, n = 40): string {
  try {
    return readFileSync(consolePath(dir), 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no console log)';
  }
}

export async function launchQemu(spec: QemuSpec): Promise<void> {
  const { dir } = spec;
  rmSync(consolePath(dir), { force: true });
  rmSync(pidPath(dir), { force: true });
  rmSync(monitorPath(dir), { force: true });
  const fwd = spec.forwards.map((f) => `,hostfwd=tcp:127.0.0.1:${f.hostPort}-${spec.guestIp}:${f.guestPort}`).join('');
  const append = ['console=ttyS0', 'quiet', 'panic=-1', ...Object.entries(spec.guestEnv).map(([k, v]) => `${k}=${v}`)];
  // distinct MAC per VM name (matters if VMs ever share a bridge)
  const h = createHash('md5').update(spec.name).digest('hex');
  const mac = `52:54:00:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
  const accel = spec.tbMiB ? `tcg,tb-size=${spec.tbMiB}` : 'tcg';
  const args = [
    '-name',
    `stas-${spec.name}`,
    '-accel',
    accel,
    '-cpu',
    'max',
    '-m',
    String(spec.memMiB),
    '-smp',
    String(spec.smp ?? 1),
    '-kernel',
    spec.kernel,
    '-initrd',
    spec.initramfs,
    '-append',
    append.join(' '),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-vga',
    'none',
    '-monitor',
    `unix:${monitorPath(dir)},server=on,wait=off`,
    '-serial',
    `file:${consolePath(dir)}`,
    '-no-reboot',
    // restrict=on: the guest reaches nothing but the explicit forwards, all bound to 127.0.0.1
    '-netdev',
    `user,id=n0,restrict=on${fwd}`,
    '-device',
    `virtio-net-pci,netdev=n0,mac=${mac}`,
  ];
  if (spec.tap) {
    const mac1 = `52:54:01:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
    args.push(
      '-netdev',
      `tap,id=n1,ifname=${spec.tap},script=no,downscript=no`,
      '-device',
      `virtio-net-pci,netdev=n1,mac=${mac1}`,
    );
  }
  spec.shares?.forEach((s, i) => {
    const ro = s.readonly ? ',readonly=on' : '';
    args.push(
      '-fsdev',
      `local,id=fs${i},path=${s.path},security_model=none${ro},multidevs=remap`,
      '-device',
      `virtio-9p-pci,fsdev=fs${i},mount_tag=${s.tag}`,
    );
  });
  args.push('-daemonize', '-pidfile', pidPath(dir));
  const r = await execa('qemu-system-x86_64', args, { reject: false, timeout: 60_000, all: true });
  if (r.exitCode !== 0) {
    throw new Error(`qemu-system-x86_64 failed for VM ${spec.name} (exit ${r.exitCode}): ${r.all ?? ''}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for the guest's ready marker on the console; fails with the console tail on timeout/panic/exit. */
export async function waitForMarker(dir: string, name: string, marker: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const text = existsSync(consolePath(dir)) ? readFileSync(consolePath(dir), 'utf8') : '';
    if (text.includes(marker)) return;
    const failed = /NVMET-FAILED|Kernel panic/.exec(text);
    if (failed) throw new Error(`VM ${name}: ${failed[0]}\n--- console ---\n${consoleTail(dir)}`);
    if (runningPid(dir) === undefined)
      throw new Error(`VM ${name}: qemu exited while booting\n--- console ---\n${consoleTail(dir)}`);
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`VM ${name}: not ready (${marker}) within ${timeoutMs} ms\n--- console ---\n${consoleTail(dir)}`);
    }
    await sleep(200);
  }
}

/** Stops the VM of this state dir (TERM, then KILL after 5 s). */
export async function stopQemu(dir: string): Promise<boolean> {
  const pid = runningPid(dir);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(100);
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 20 && pidAlive(pid); i++) await sleep(100);
  return true;
}

/** Runs one HMP command on the VM's monitor socket and returns its output. */
export function hmp(dir: string, command: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let buf = '';
    let sent = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`HMP '${command}' timed out; got: ${buf}`));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (!sent && buf.includes('(qemu) ')) {
        sent = true;
        buf = '';
        sock.write(`${command}\n`);
      } else if (sent && buf.includes('(qemu) ')) {
        clearTimeout(timer);
        sock.destroy();
        // the monitor echoes the command line (with terminal escapes); keep what follows it
        // eslint-disable-next-line no-control-regex
        const clean = buf.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
        const lines = clean.split('\n').filter((l) => !l.includes('(qemu)') && !l.includes(command));
        resolve(lines.join('\n').trim());
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`HMP socket ${monitorPath(dir)}: ${e.message}`));
    });
    sock.connect(monitorPath(dir));
  });
}
