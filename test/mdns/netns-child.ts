// Spawns zeroconf-child (or a one-line TCP listener) inside a network namespace and collects its JSON lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');

export interface ChildLine {
  ev: string;
  [k: string]: unknown;
}

export interface NetnsChild {
  proc: ChildProcess;
  lines: ChildLine[];
  stderr(): string;
  /** first line (from `since`) satisfying pred; bounded */
  waitFor(pred: (l: ChildLine) => boolean, timeoutMs: number, what: string, since?: number): Promise<ChildLine>;
  /** SIGTERM; resolves with true when the process exited by itself within the bound */
  stop(timeoutMs?: number): Promise<boolean>;
}

function collect(proc: ChildProcess, label: string): NetnsChild {
  const lines: ChildLine[] = [];
  let buf = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line) as ChildLine);
      } catch {
        lines.push({ ev: 'text', text: line });
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = (ms: number): Promise<boolean> =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve(true)
      : new Promise((resolve) => {
          const t = setTimeout(() => resolve(false), ms);
          proc.once('exit', () => {
            clearTimeout(t);
            resolve(true);
          });
        });
  return {
    proc,
    lines,
    stderr: () => err,
    async waitFor(pred, timeoutMs, what, since = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.slice(since).find(pred);
        if (hit) return hit;
        if (proc.exitCode !== null)
          throw new Error(`${label} exited (${proc.exitCode}) while waiting for ${what}; stderr:\n${err.slice(-4000)}`);
        if (Date.now() > deadline) {
          const tail = lines.filter((l) => l.ev !== 'info').slice(-10);
          const lastInfo = [...lines].reverse().find((l) => l.ev === 'info');
          throw new Error(
            `${label}: no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(tail)}; last info: ${JSON.stringify(lastInfo)}; stderr tail:\n${err.slice(-3000)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(timeoutMs = 5_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return true;
      proc.kill('SIGTERM');
      const clean = await exited(timeoutMs);
      if (!clean) {
        proc.kill('SIGKILL');
        await exited(2_000);
      }
      return clean;
    },
  };
}

/** Runs zeroconf-child in `ns` with the given options. */
export function spawnZeroconfChild(ns: string, opts: Record<string, unknown>): NetnsChild {
  const script = join(here, fromSource ? 'zeroconf-child.ts' : 'zeroconf-child.js');
  const nodeArgs = fromSource ? ['--import', 'tsx', script] : [script];
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, STAS_MDNS_CHILD_OPTS: JSON.stringify(opts) },
  });
  return collect(proc, `zeroconf-child in ${ns}`);
}

/** A TCP listener on address:port inside `ns` (the "DC" whose reachability is checked). */
export async function spawnTcpListener(ns: string, address: string, port: number): Promise<NetnsChild> {
  const code = `require('net').createServer((s)=>s.destroy()).listen(${port}, ${JSON.stringify(address)}, ()=>console.log(JSON.stringify({ev:'listening'})));process.on('SIGTERM',()=>process.exit(0));`;
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  const child = collect(proc, `tcp listener in ${ns}`);
  await child.waitFor((l) => l.ev === 'listening', 5_000, 'listening');
  return child;
}
