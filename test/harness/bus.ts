// A private, system-bus-like dbus-daemon with the project's own policy files, one per test file.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './repo.js';

export interface PrivateBus {
  address: string;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startPrivateBus(opts: { policyDir?: string } = {}): Promise<PrivateBus> {
  const dir = mkdtempSync(join(tmpdir(), 'stas-bus-'));
  chmodSync(dir, 0o755); // non-root clients (runuser -u nobody) must reach the socket
  const socket = join(dir, 'system_bus_socket');
  const policyDir = opts.policyDir ?? join(repoRoot(), 'etc', 'dbus-1', 'system.d');
  const conf = readFileSync(join(repoRoot(), 'test', 'harness', 'dbus', 'bus.conf.in'), 'utf8')
    .replace('@SOCKET@', socket)
    .replace('@POLICYDIR@', policyDir);
  writeFileSync(join(dir, 'bus.conf'), conf);
  const child: ChildProcess = spawn(
    'dbus-daemon',
    [`--config-file=${join(dir, 'bus.conf')}`, '--nofork', '--print-address=1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`dbus-daemon did not start within 10 s: ${stderr}`)), 10_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run dbus-daemon (package dbus): ${e.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dbus-daemon exited with ${code}: ${stderr}`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    address,
    dir,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
