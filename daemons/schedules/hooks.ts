// Pre/post snapshot hooks: real child processes, exec'd without a shell, in their own process group so a
// timeout kills the whole tree; output captured (bounded) so a failing hook always says why.
import { spawn } from 'node:child_process';

export type HookPhase = 'pre' | 'post';

export interface HookRequest {
  phase: HookPhase;
  argv: readonly string[];
  timeoutMs: number;
  env: { STAS_VOLUME: string; STAS_SNAPSHOT: string; STAS_SCHEDULE: string };
  /** bytes of combined stdout+stderr kept (the tail is dropped); default 16 KiB */
  maxOutputBytes?: number;
}

export interface HookResult {
  phase: HookPhase;
  argv: string[];
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** could not start (ENOENT, EACCES …) */
  spawnError?: string;
  durationMs: number;
  output: string;
  outputTruncated: boolean;
}

const KILL_GRACE_MS = 2_000;

/** One-line reason of a failed hook: `pre-hook /x exited with code 3: <last output line>`. */
export function describeHookFailure(r: HookResult): string {
  const what = `${r.phase}-hook ${r.argv[0]}`;
  let how: string;
  if (r.spawnError) how = `could not be started: ${r.spawnError}`;
  else if (r.timedOut) how = `timed out after ${r.durationMs} ms and was killed`;
  else if (r.signal) how = `was killed by ${r.signal}`;
  else how = `exited with code ${r.exitCode}`;
  const last = r.output.trim().split('\n').pop()?.trim();
  return last ? `${what} ${how}: ${last.slice(0, 200)}` : `${what} ${how}`;
}

export function runHook(req: HookRequest): Promise<HookResult> {
  const max = req.maxOutputBytes ?? 16 * 1024;
  const started = Date.now();
  return new Promise<HookResult>((resolve) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let truncated = false;
    let timedOut = false;
    let settled = false;
    const finish = (
      r: Omit<HookResult, 'phase' | 'argv' | 'durationMs' | 'output' | 'outputTruncated' | 'timedOut'>,
    ): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({
        phase: req.phase,
        argv: [...req.argv],
        ...r,
        timedOut,
        durationMs: Date.now() - started,
        output: Buffer.concat(chunks).toString('utf8'),
        outputTruncated: truncated,
      });
    };
    const onData = (b: Buffer): void => {
      if (kept >= max) {
        truncated = true;
        return;
      }
      const part = b.subarray(0, max - kept);
      if (part.length < b.length) truncated = true;
      chunks.push(part);
      kept += part.length;
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(req.argv[0]!, req.argv.slice(1), {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // own process group: the timeout kills grandchildren too
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...req.env, STAS_PHASE: req.phase },
      });
    } catch (e) {
      resolve({
        phase: req.phase,
        argv: [...req.argv],
        ok: false,
        exitCode: null,
        signal: null,
        timedOut: false,
        spawnError: (e as Error).message,
        durationMs: 0,
        output: '',
        outputTruncated: false,
      });
      return;
    }
    const killGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    }, req.timeoutMs);
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('error', (e) => finish({ ok: false, exitCode: null, signal: null, spawnError: e.message }));
    child.on('close', (code, signal) => {
      finish({ ok: code === 0 && !timedOut, exitCode: code, signal: signal ?? null });
    });
  });
}
