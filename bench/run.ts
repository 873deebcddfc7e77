// npm run bench: every benchmark module that exists, one after the other; each prints its own figures.
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const modules = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const m of modules) {
  console.log(`\n### ${m.replace(/\.js$/, '')}`);
  try {
    const mod = (await import(`./${m}`)) as { run?: () => Promise<void> };
    if (typeof mod.run !== 'function') throw new Error('exports no run()');
    await mod.run();
  } catch (e) {
    failed++;
    console.error(`${m}: ${(e as Error).stack ?? String(e)}`);
  }
}
process.exit(failed ? 1 : 0);
