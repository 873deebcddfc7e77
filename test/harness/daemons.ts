// Runs the real stafd/stacd (compiled JS) on a private bus and waits until they own their names.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './repo.js';
import { runProcess } from './process.js';
import { waitFor } from './wait.js';
import { execFileSync } from 'node:child_process';

export type Prog = 'stafd' | 'stacd' | 'stafctl' | 'stacctl' | 'stasadm';

const SCRIPTS: Record<Prog, string> = {
  stafd: 'dist/daemons/stafd.js',
  stacd: 'dist/daemons/stacd.js',
  stafctl: 'dist/ctl/stafctl.js',
  stacctl: 'dist/ctl/stacctl.js',
  stasadm: 'dist/ctl/stasadm.js',
};

export function scriptPath(prog: Prog): string {
  return join(repoRoot(), SCRIPTS[prog]);
}

export interface RunningDaemon {
  proc: ChildProcess;
  /** everything the daemon printed so far (pino JSON lines) */
  output(): string;
  /** resolves when a log line containing `text` appears (bounded) */
  /** a line of output matching `text`, among the lines written after `since` (a `mark()`; default: all) */
  waitForLog(text: string | RegExp, timeoutMs?: number, since?: number): Promise<string>;
  /** the current end of the output, for waitForLog(…, since) */
  mark(): number;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM and wait for exit; returns the exit code */
  stop(timeoutMs?: number): Promise<number | null>;
}

export interface DaemonOptions {
  busAddress: string;
  confFile: string;
  args?: string[];
  env?: Record<string, string>;
  /** wait for the bus name (default true) */
  waitName?: boolean;
  /** run the daemon through this command prefix, e.g. ['ip', 'netns', 'exec', ns] */
  wrap?: string[];
}

const BUS_NAMES = { stafd: 'org.nvmexpress.staf', stacd: 'org.nvmexpress.stac' } as const;

export function nameOwned(busAddress: string, name: string): boolean {
  try {
    // dbus-send rather than busctl: busctl needs systemd's runtime directories, absent in the kernel-host VM
    execFileSync(
      'dbus-send',
      [
        `--bus=${busAddress}`,
        '--print-reply',
        '--dest=org.freedesktop.DBus',
        '/org/freedesktop/DBus',
        'org.freedesktop.DBus.GetNameOwner',
        `string:${name}`,
      ],
      {
        stdio: 'ignore',
        timeout: 3000,
      },
    );
    return true;
  } catch {
    return false;
  }
}

export async function startDaemon(prog: 'stafd' | 'stacd', opts: DaemonOptions): Promise<RunningDaemon> {
  const argv = [process.execPath, scriptPath(prog), '-f', opts.confFile, ...(opts.args ?? [])];
  const [cmd, ...rest] = [...(opts.wrap ?? []), ...argv] as [string, ...string[]];
  const proc = spawn(cmd, rest, {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: opts.busAddress, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));

  const d: RunningDaemon = {
    proc,
    output: () => out,
    mark: () => out.length,
    waitForLog(text, timeoutMs = 10_000, since = 0) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const lines = out.slice(since).split('\n');
          const hit = lines.find((l) => (typeof text === 'string' ? l.includes(text) : text.test(l)));
          if (hit !== undefined) {
            waiters.delete(check as () => void);
            clearTimeout(t);
            resolve(hit);
            return true;
          }
          return false;
        };
        const t = setTimeout(() => {
          waiters.delete(check as () => void);
          reject(
            new Error(
              `${prog}: no log line matching ${String(text)} within ${timeoutMs} ms; output:\n${out.slice(-3000)}`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check as () => void);
      });
    },
    signal: (sig) => proc.kill(sig),
    async stop(timeoutMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const code = await Promise.race([
        exited,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs)),
      ]);
      if (code === 'timeout') {
        proc.kill('SIGKILL');
        throw new Error(`${prog} did not stop within ${timeoutMs} ms after SIGTERM; output:\n${out.slice(-3000)}`);
      }
      return code;
    },
  };
  if (opts.waitName !== false) {
    try {
      await waitFor(
        () => `${prog} to own ${BUS_NAMES[prog]}; output:\n${out}`,
        () => {
          if (proc.exitCode !== null) throw new Error(`${prog} exited with ${proc.exitCode} before owning its name`);
          return nameOwned(opts.busAddress, BUS_NAMES[prog]);
        },
        { timeoutMs: 20_000, fatal: () => proc.exitCode !== null },
      );
    } catch (e) {
      proc.kill('SIGKILL');
      throw e;
    }
  }
  return d;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a CLI (compiled JS) with the bus address set (as `user` through runuser). */
export async function runCli(
  prog: Prog,
  args: string[],
  opts: { busAddress?: string; env?: Record<string, string>; user?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const env = { ...process.env, ...(opts.busAddress ? { DBUS_SYSTEM_BUS_ADDRESS: opts.busAddress } : {}), ...opts.env };
  const r = await runProcess(process.execPath, [scriptPath(prog), ...args], {
    env,
    timeoutMs: opts.timeoutMs ?? 30_000,
    ...(opts.user ? { user: opts.user } : {}),
  });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}
