// Shared helpers of the config tests: temporary folders and the repository root (works from test/ and dist/test/).
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';

export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'etc', 'stas'))) return d;
    d = dirname(d);
  }
  throw new Error('repository root not found from ' + fileURLToPath(import.meta.url));
}

/** A fresh temporary folder, removed when the test file ends. */
export function tempDir(prefix = 'stas-config-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export function write(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}
