// Runs crash-child in its own process and SIGKILLs it when a condition on its output (or its own crash
// point) is met. Works from the TypeScript sources (tsx) and from dist/ (compiled JS) alike.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const childFile = join(here, fileURLToPath(import.meta.url).endsWith('.ts') ? 'crash-child.ts' : 'crash-child.js');

export interface ChildReport {
  /** the process ended by SIGKILL (ours, or its own crash point) */
  killed: boolean;
  /** the child reported the job finished before it died */
  completed: boolean;
  maxProgress: number;
  output: string;
}

export interface CrashRun {
  kind: 'qcow2' | 'rbd';
  root: string;
  op: 'flatten' | 'rollback' | 'delete';
  volume: string;
  arg?: string;
  /** STAS_CRASH_AT for the child: it kills itself right after that journal phase is durable */
  crashAt?: string;
  /** kill the child once it reports at least this progress (and has not finished) */
  killAtProgress?: number;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export function runCrashChild(run: CrashRun): Promise<ChildReport> {
  const env = { ...process.env, ...run.env, ...(run.crashAt ? { STAS_CRASH_AT: run.crashAt } : {}) };
  const child = spawn(
    process.execPath,
    [...process.execArgv, childFile, run.kind, run.root, run.op, run.volume, ...(run.arg ? [run.arg] : [])],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  let maxProgress = 0;
  let completed = false;
  let rest = '';
  child.stdout.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      output += line + '\n';
      try {
        const o = JSON.parse(line) as { progress?: number; done?: boolean };
        if (o.done) completed = true;
        if (typeof o.progress === 'number') maxProgress = Math.max(maxProgress, o.progress);
        if (run.killAtProgress !== undefined && !o.done && maxProgress >= run.killAtProgress) child.kill('SIGKILL');
      } catch {
        /* not a report line */
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timeout = setTimeout(() => child.kill('SIGKILL'), run.timeoutMs ?? 300_000);
  return new Promise((resolve) => {
    child.on('exit', (_code, signal) => {
      clearTimeout(timeout);
      resolve({ killed: signal === 'SIGKILL', completed, maxProgress, output });
    });
  });
}
