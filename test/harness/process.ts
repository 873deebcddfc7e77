// Running a command in tests, the one way: bounded, output collected, optionally as another user (runuser) or
// with input on stdin. `runProcess` reports the exit code; `runChecked` throws with the command and its stderr.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ProcessResult {
  /** exit code; -1 when it ended on a signal */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ProcessOptions {
  /** bound on the run (default 30 s): then SIGKILL and a rejection naming the command */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** run as this user through runuser (tests run as root) */
  user?: string;
  input?: string;
}

function describe(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].join(' ').slice(0, 300);
}

export function runProcess(cmd: string, args: readonly string[], opts: ProcessOptions = {}): Promise<ProcessResult> {
  const [file, argv] = opts.user ? ['runuser', ['-u', opts.user, '--', cmd, ...args]] : [cmd, [...args]];
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const p = spawn(file, argv, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdin.on('error', () => undefined); // a command that does not read its input
    p.stdin.end(opts.input ?? '');
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${describe(cmd, args)}: did not finish within ${timeoutMs} ms; stderr: ${stderr.slice(-800)}`));
    }, timeoutMs);
    p.on('error', (e) => {
      clearTimeout(t);
      reject(new Error(`${describe(cmd, args)}: cannot run: ${e.message}`));
    });
    p.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, signal, stdout, stderr });
    });
  });
}

/** Runs a command that must succeed; resolves with its stdout, rejects with the exit code and stderr. */
export async function runChecked(cmd: string, args: readonly string[], opts: ProcessOptions = {}): Promise<string> {
  const r = await runProcess(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${describe(cmd, args)}: exit ${r.signal ?? r.code}: ${(r.stderr.trim() || r.stdout.trim()).slice(-800)}`,
    );
  }
  return r.stdout;
}

/**
 * Runs a module that sits beside the calling test (`name` without extension) in a child Node: its `.ts` source
 * under the test's own loader (`--import tsx`) when the tests run from source, else the compiled `.js`.
 */
export function runSiblingModule(
  testUrl: string,
  name: string,
  args: readonly string[],
  opts: ProcessOptions = {},
): Promise<ProcessResult> {
  const self = fileURLToPath(testUrl);
  const file = join(dirname(self), `${name}${self.endsWith('.ts') ? '.ts' : '.js'}`);
  const loader = process.execArgv.filter((a, i, all) => a.startsWith('--import') || all[i - 1] === '--import');
  return runProcess(process.execPath, [...loader, file, ...args], opts);
}
