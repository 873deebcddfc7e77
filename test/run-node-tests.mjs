// Runs the test suite tier by tier with node's test runner and prints each tier's wall time at the end.
// Tiers are in the file names (test/<area>/<name>.<tier>.test.ts):
//   unit   pure: no processes, no root; concurrent
//   local  private dbus-daemon, fake target, qemu-img, child processes; one file at a time
//   peers  kernel target/host VMs, Avahi in namespaces, Ceph; one file at a time (suite-wide peers are shared)
// Usage: node test/run-node-tests.mjs [--tier unit|local|peers]... [--ts] [substring-filter ...]
//   --ts   run the TypeScript sources through tsx instead of dist/ (no build needed; used by `npm run test:unit`)
// Without --tier every tier runs. Suite-wide peers (VMs, Ceph) are stopped at the end.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

const TIERS = ['unit', 'local', 'peers'];
const root = new URL('..', import.meta.url).pathname;

const args = process.argv.slice(2);
const tiers = [];
const filters = [];
let fromSource = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--tier') {
    const t = args[++i];
    if (!TIERS.includes(t)) {
      console.error(`run-node-tests: unknown tier "${t}" (one of ${TIERS.join(', ')})`);
      process.exit(2);
    }
    tiers.push(t);
  } else if (a === '--ts') fromSource = true;
  else if (a !== 'all') filters.push(a);
}
if (fromSource && !existsSync(join(root, 'node_modules', 'tsx'))) {
  // a fresh clone: the unit tier needs only the npm packages (no build, no root, no apt)
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const selected = tiers.length ? TIERS.filter((t) => tiers.includes(t)) : TIERS;
const testDir = fromSource ? join(root, 'test') : join(root, 'dist', 'test');
const ext = fromSource ? '.ts' : '.js';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith(`.test${ext}`)) out.push(p);
  }
  return out;
}

const all = walk(testDir).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
const untiered = all.filter((f) => !TIERS.some((t) => f.endsWith(`.${t}.test${ext}`)));
if (untiered.length) {
  console.error(
    `run-node-tests: test files without a tier in their name (<name>.<${TIERS.join('|')}>.test.ts):\n  ${untiered.join('\n  ')}`,
  );
  process.exit(2);
}

/** Runs one tier; echoes the runner's output and picks its pass/fail/skip counts from the summary lines. */
function runTier(tier, files) {
  const concurrency = tier === 'unit' ? Math.max(2, availableParallelism()) : 1;
  const nodeArgs = [
    ...(fromSource ? ['--import', 'tsx'] : []),
    '--test',
    `--test-concurrency=${concurrency}`,
    ...files,
  ];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, nodeArgs, {
      cwd: root,
      env: { ...process.env, STAS_TEST_SUITE: '1', STAS_TEST_TIER: tier },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const counts = { pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 };
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const text = tail + chunk.toString();
      const lines = text.split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) {
        // tap: "# pass 12"; spec: "ℹ pass 12" — the runner's closing summary
        const m = /^(?:#|ℹ) (pass|fail|skipped|todo|cancelled) (\d+)$/.exec(line.trim());
        if (m) counts[m[1]] = Number(m[2]);
      }
    });
    child.on('close', (code, signal) =>
      resolve({ tier, files: files.length, code: code ?? (signal ? 1 : 0), ms: Date.now() - started, counts }),
    );
  });
}

const results = [];
for (const tier of selected) {
  const files = all.filter((f) => f.endsWith(`.${tier}.test${ext}`));
  if (files.length === 0) continue;
  console.log(`\n=== tier ${tier}: ${files.length} file(s) ===`);
  results.push(await runTier(tier, files));
}

if (!fromSource && selected.some((t) => t !== 'unit')) {
  const cleanup = join(root, 'dist', 'test', 'harness', 'cleanup.js');
  if (existsSync(cleanup)) spawnSync(process.execPath, [cleanup], { stdio: 'inherit', cwd: root });
}

if (results.length === 0) {
  console.error(`run-node-tests: no test files matched ${[...filters, ...tiers].join(' ') || '(everything)'}`);
  process.exit(1);
}
const total = { pass: 0, fail: 0, skipped: 0 };
console.log('\n=== suite time per tier ===');
for (const r of results) {
  const { pass, fail, skipped, todo, cancelled } = r.counts;
  total.pass += pass;
  total.fail += fail + cancelled;
  total.skipped += skipped + todo;
  console.log(
    `${r.tier.padEnd(6)} ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${String(r.files).padStart(3)} files  ${pass} passed, ${fail + cancelled} failed, ${skipped + todo} skipped${r.code ? `  (exit ${r.code})` : ''}`,
  );
}
const failedTier = results.some((r) => r.code !== 0);
console.log(`${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped`);
process.exit(failedTier || total.fail > 0 ? 1 : 0);
