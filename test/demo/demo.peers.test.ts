// The main job of README.md (npm run demo) keeps working: run it once and check what it shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../harness/repo.js';

test(
  'the demo boots the target, advertises it by mDNS, stafd finds it, stacd connects, a volume and a snapshot are made',
  { timeout: 400_000 },
  async () => {
    const out = await new Promise<{ code: number; text: string }>((resolve, reject) => {
      // STAS_KEEP_PEERS: the suite's shared VM stays up for the other test files
      const p = spawn(process.execPath, [join(repoRoot(), 'dist', 'demo', 'demo.js'), '--once'], {
        env: { ...process.env, STAS_KEEP_PEERS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      p.stdout.on('data', (d: Buffer) => (text += d.toString()));
      p.stderr.on('data', (d: Buffer) => (text += d.toString()));
      const t = setTimeout(() => {
        p.kill('SIGKILL');
        reject(new Error(`demo did not finish within 360 s:\n${text.slice(-4000)}`));
      }, 360_000);
      p.on('exit', (code) => {
        clearTimeout(t);
        resolve({ code: code ?? -1, text });
      });
    });
    assert.equal(out.code, 0, out.text.slice(-4000));
    assert.match(out.text, /nvmet ready in/);
    assert.match(out.text, /discovery\s+tcp\s+ipv4\s+10\.77\.0\.2\s+8009/);
    // found by mDNS through Avahi on the bus, not from a controller= line
    assert.match(
      out.text,
      /nvme\?\s+tcp\s+10\.77\.0\.2\s+8009\s+lan0\s+-\s+nqn\.2014-08\.org\.nvmexpress\.discovery\s+discovered\s+True/,
    );
    assert.match(out.text, /stas\.avahi backend:\s+avahi/);
    for (const n of [1, 2, 3]) assert.match(out.text, new RegExp(`nqn\\.2024-01\\.io\\.example:subsys${n}\\s+True`));
    assert.match(out.text, /created demo-vol \(1 GiB, pool default\)/);
    assert.match(out.text, /created demo-vol@first/);
    assert.match(out.text, /^first\s+1 GiB\s+no\s+\d{4}-/m);
    assert.match(out.text, /stas\.volumes:\s+1 pool\(s\): default \(qcow2\)/);
    assert.match(out.text, /== stopping/);
  },
);
