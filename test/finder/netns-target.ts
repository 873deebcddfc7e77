// The fake discovery target in a network namespace (netns-target-child), for the mDNS test and bench.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');

/** Starts it listening on address:port inside `ns`; resolves once it is ready (bounded). */
export async function startNetnsTarget(ns: string, address: string, port: number, nqn: string): Promise<ChildProcess> {
  const script = join(here, fromSource ? 'netns-target-child.ts' : 'netns-target-child.js');
  const p = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      ...(fromSource ? ['--import', 'tsx'] : []),
      script,
      address,
      String(port),
      nqn,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`fake target in ${ns} not ready within 15 s: ${out}`)), 15_000);
    p.stdout!.on('data', () => {
      if (out.includes('READY')) {
        clearTimeout(t);
        resolve();
      }
    });
    p.on('exit', (c) => {
      clearTimeout(t);
      reject(new Error(`fake target exited with ${c}: ${out}`));
    });
  });
  p.removeAllListeners('exit');
  return p;
}

/** SIGTERM, SIGKILL after 5 s. */
export function stopNetnsTarget(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      resolve();
    }, 5_000);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    p.kill('SIGTERM');
  });
}
