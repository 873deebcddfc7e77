// Seeds and bounds of the fuzz tests (test/fuzz/). Every fuzz test draws its cases from one seed, printed at the
// start so that a failure is replayed with STAS_FUZZ_SEED=<seed>. STAS_FUZZ_COUNT sets a test's number of cases;
// STAS_FUZZ_SCALE multiplies every test's default (the suite runs scale 1; `npm run test:fuzz` raises it).
import { readFileSync } from 'node:fs';

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name}=${v}: not a non-negative integer`);
  return n;
}

/** The run's seed (STAS_FUZZ_SEED, else random), printed with the way to replay it. */
export function fuzzSeed(what: string): number {
  const seed = envInt('STAS_FUZZ_SEED') ?? (Math.floor(Math.random() * 0xffff_ffff) >>> 0 || 1);
  console.log(`# ${what}: seed ${seed} (replay: STAS_FUZZ_SEED=${seed})`);
  return seed;
}

/** How many cases to run: STAS_FUZZ_COUNT, else `dflt` times STAS_FUZZ_SCALE (default 1). */
export function fuzzCount(dflt: number): number {
  return envInt('STAS_FUZZ_COUNT') ?? dflt * Math.max(1, envInt('STAS_FUZZ_SCALE') ?? 1);
}

/** Resident set size of a process in bytes (VmRSS), undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
