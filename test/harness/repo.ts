// Locating the repository from compiled (dist/test/...) or source (test/...) test files.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'dbus-interfaces'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the repository root from ' + fileURLToPath(import.meta.url));
}

/** Per-run state of suite-wide peers (VMs, Ceph), gitignored. */
export function testStateDir(): string {
  return join(repoRoot(), '.test-state');
}
