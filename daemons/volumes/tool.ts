// Runs qemu-img / rbd through execa: never blocks the event loop, always bounded by a timeout,
// cancellable through an AbortSignal (the child is killed), and reports progress parsed from the
// tool's own output stream.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { CancelledError, BackendError } from './errors.js';
import { log } from '../common/log.js';
import { forUnprivilegedCaller } from '../dbus/caller.js';

export interface ToolOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  cwd?: string;
  env?: Record<string, string>;
  input?: string;
  /** a daemon that forks away and outlives stacd by design (qemu-storage-daemon): not marked as a leftover */
  outlivesDaemon?: boolean;
  /** which stream carries progress, and how to extract a percentage from one \r/\n separated chunk */
  progress?: {
    stream: 'stdout' | 'stderr';
    parse: (line: string) => number | undefined;
    onProgress: (pct: number) => void;
  };
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

/**
 * One bound on the tool processes of a daemon. Work done for a non-root client (read-only calls: usage, attachment,
 * retention plans) may hold only `unprivilegedSlots` of the `size` slots and waits behind everyone else's, so a flood
 * of such calls neither forks without bound nor delays root's calls or the daemon's own work.
 */
export class ToolPool {
  private running = 0;
  private runningUnprivileged = 0;
  private readonly waiting: { unprivileged: boolean; go: () => void }[] = [];
  /** most processes seen at once (for process_info and tests) */
  peak = 0;

  constructor(
    public size: number,
    public unprivilegedSlots: number,
  ) {}

  /** Resolves with the release function once a slot is free. */
  async acquire(unprivileged: boolean, signal?: AbortSignal): Promise<() => void> {
    // nobody overtakes a waiting privileged call
    if (this.fits(unprivileged) && !this.waiting.some((w) => !w.unprivileged)) this.take(unprivileged);
    else
      await new Promise<void>((resolve, reject) => {
        const w = { unprivileged, go: resolve }; // wake() takes the slot for the waiter before it calls go()
        this.waiting.push(w);
        signal?.addEventListener(
          'abort',
          () => {
            const i = this.waiting.indexOf(w);
            if (i < 0) return;
            this.waiting.splice(i, 1);
            reject(new CancelledError());
          },
          { once: true },
        );
      });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      if (unprivileged) this.runningUnprivileged--;
      this.wake();
    };
  }

  get inUse(): number {
    return this.running;
  }

  private fits(unprivileged: boolean): boolean {
    if (this.running >= this.size) return false;
    if (!unprivileged) return true;
    return this.runningUnprivileged < this.unprivilegedSlots;
  }

  private take(unprivileged: boolean): void {
    this.running++;
    if (unprivileged) this.runningUnprivileged++;
    this.peak = Math.max(this.peak, this.running);
  }

  private wake(): void {
    // privileged waiters first, in order; then unprivileged ones within their share
    for (const unprivileged of [false, true]) {
      for (let i = 0; i < this.waiting.length;) {
        const w = this.waiting[i]!;
        if (w.unprivileged !== unprivileged || !this.fits(unprivileged)) {
          i++;
          continue;
        }
        this.waiting.splice(i, 1);
        this.take(unprivileged);
        w.go();
      }
    }
  }
}

/** Every tool carries this variable (readable in /proc/<pid>/environ), naming the state it works on: what a
 *  restarted daemon looks for to find tools of its predecessor that outlived it (see sweepLeftoverTools). */
export const TOOL_MARK_VAR = 'STAS_TOOL_OF';
let toolMark: string | undefined;

/**
 * Kills the tools a previous daemon on the same state left running (SIGKILL outside systemd, before or without the
 * parent-death signal taking effect) and waits until they are gone, so that journal recovery never works on files
 * an old qemu-img still changes or locks. Then marks this daemon's own tools. Returns what it killed, for the log.
 */
export async function sweepLeftoverTools(mark: string, waitMs = 10_000): Promise<string[]> {
  const wanted = `${TOOL_MARK_VAR}=${mark}`;
  const found: { pid: number; what: string }[] = [];
  let entries: string[] = [];
  try {
    entries = await readdir('/proc');
  } catch {
    /* no procfs: nothing to find */
  }
  for (const d of entries) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const env = await readFile(`/proc/${d}/environ`, 'latin1');
      if (!env.split('\0').includes(wanted)) continue;
      const cmd = (await readFile(`/proc/${d}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ');
      found.push({ pid: Number(d), what: cmd.slice(0, 200) });
    } catch {
      /* gone, or not ours to read */
    }
  }
  for (const f of found) {
    try {
      process.kill(f.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + waitMs;
  for (const f of found) {
    while (isRunning(f.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (isRunning(f.pid)) log().error(`leftover tool ${f.pid} (${f.what}) did not die within ${waitMs} ms`);
  }
  toolMark = mark;
  return found.map((f) => `killed leftover tool of a previous daemon: pid ${f.pid}: ${f.what}`);
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The daemon's pool (stacd sizes it from [Volumes] max-jobs: long jobs hold slots for their whole run). */
export const toolPool = new ToolPool(8, 2);

export async function runTool(cmd: string, args: string[], opts: ToolOptions): Promise<ToolResult> {
  if (opts.signal?.aborted) throw new CancelledError();
  const release = await toolPool.acquire(await forUnprivilegedCaller(), opts.signal);
  try {
    return await runToolNow(cmd, args, opts);
  } finally {
    release();
  }
}

async function runToolNow(cmd: string, args: string[], opts: ToolOptions): Promise<ToolResult> {
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
    env: toolMark && !opts.outlivesDaemon ? { ...opts.env, [TOOL_MARK_VAR]: toolMark } : opts.env,
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
