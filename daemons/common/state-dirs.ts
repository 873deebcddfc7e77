// Where a daemon keeps what must survive a restart (caches, journals): systemd's StateDirectory= or
// RuntimeDirectory= when set, else /var/lib/stas/<prog>.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export function stateDir(prog: 'stafd' | 'stacd'): string {
  const d = process.env.STATE_DIRECTORY?.split(':')[0] ?? join('/var/lib/stas', prog);
  mkdirSync(d, { recursive: true, mode: 0o755 });
  return d;
}

export function runtimeDir(prog: 'stafd' | 'stacd'): string {
  const d = process.env.RUNTIME_DIRECTORY?.split(':')[0] ?? join('/run', prog);
  mkdirSync(d, { recursive: true, mode: 0o755 });
  return d;
}
