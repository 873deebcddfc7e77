// Runs the compiled tests (dist/test/**/*.test.js) with node's test runner, one file at a time so that
// suite-wide peers (VM, Ceph) are not fought over by two files, then stops those peers.
// Usage: node test/run-node-tests.mjs [substring-filter ...]
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const testDir = join(root, 'dist', 'test');
const filters = process.argv.slice(2).filter((a) => a !== 'all');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = walk(testDir).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files matched ${filters.join(' ')}`);
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, STAS_TEST_SUITE: '1' },
});
const cleanup = join(root, 'dist', 'test', 'harness', 'cleanup.js');
if (existsSync(cleanup)) spawnSync(process.execPath, [cleanup], { stdio: 'inherit', cwd: root });
process.exit(res.status ?? 1);
