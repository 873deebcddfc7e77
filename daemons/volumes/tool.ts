// Runs qemu-img / rbd through execa: never blocks the event loop, always bounded by a timeout,
// cancellable through an AbortSignal (the child is killed), and reports progress parsed from the
// tool's own output stream.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { CancelledError, BackendError } from './errors.js';
import { log } from '../common/log.js';

export interface ToolOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  cwd?: string;
  env?: Record<string, string>;
  input?: string;
  /** which stream carries progress, and how to extract a percentage from one \r/\n separated chunk */
  progress?: { stream: 'stdout' | 'stderr'; parse: (line: string) => number | undefined; onProgress: (pct: number) => void };
}

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/** A tool exited non-zero (or timed out); carries what the backend needs to map it to a named error. */
export class ToolFailure extends BackendError {
  constructor(
    readonly command: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
    readonly timedOut: boolean,
  ) {
    const detail = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
    super(timedOut ? `${command}: timed out` : `${command}: exit ${exitCode ?? '?'}: ${detail}`);
  }
}

/** qemu-img -p prints "    (37.50/100%)\r". */
export function parseQemuProgress(line: string): number | undefined {
  const m = /\((\d+(?:\.\d+)?)\/100%\)/.exec(line);
  return m ? Number(m[1]) : undefined;
}

/** rbd prints "Image flatten: 37% complete..." on stderr. */
export function parseRbdProgress(line: string): number | undefined {
  const m = /(\d+)% complete/.exec(line);
  return m ? Number(m[1]) : undefined;
}

/** `setpriv --pdeathsig KILL` makes a tool die with the daemon: a SIGKILLed stacd must not leave a qemu-img
 *  holding an image lock (and changing it) while the restarted daemon recovers that image. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

export async function runTool(cmd: string, args: string[], opts: ToolOptions): Promise<ToolResult> {
  if (opts.signal?.aborted) throw new CancelledError();
  const shown = `${cmd} ${args.join(' ')}`;
  log().debug({ cmd: shown, cwd: opts.cwd }, 'run');
  const [file, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
  const sub = execa(file, argv, {
    reject: false,
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 2000,
    killSignal: 'SIGKILL',
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    input: opts.input,
    stripFinalNewline: false,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
  });
  if (opts.progress) {
    const p = opts.progress;
    const stream = p.stream === 'stdout' ? sub.stdout : sub.stderr;
    let last = -1;
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split(/[\r\n]/);
      rest = parts.pop() ?? '';
      for (const line of parts) {
        const pct = p.parse(line);
        // tools restart their counter per phase at times; only report forward movement
        if (pct !== undefined && pct > last) {
          last = pct;
          p.onProgress(Math.min(100, pct));
        }
      }
    });
  }
  const r = await sub;
  if (r.isCanceled) throw new CancelledError(`${cmd}: cancelled`);
  if (r.failed) {
    throw new ToolFailure(shown, r.exitCode, String(r.stderr ?? '') + (r.timedOut ? '' : ''), r.timedOut === true);
  }
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}
