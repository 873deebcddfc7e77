// Cross-process lock (mkdir is atomic) so that two test processes never boot two copies of the same VM.
// A lock whose owner process is gone is broken; every wait is bounded.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Takes the lock directory `path`, waiting at most `timeoutMs`; returns the release function. */
export async function acquireLock(path: string, timeoutMs: number): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  const owner = join(path, 'owner');
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(owner, String(process.pid));
      return () => rmSync(path, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // someone holds it: break it if the holder died (or never wrote its pid within 10 s)
    let stale = false;
    try {
      const pid = Number(readFileSync(owner, 'utf8').trim());
      stale = !pidAlive(pid);
    } catch {
      try {
        stale = Date.now() - statSync(path).mtimeMs > 10_000;
      } catch {
        stale = false; // vanished meanwhile: retry at once
      }
    }
    if (stale) {
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      let holder = '?';
      try {
        holder = readFileSync(owner, 'utf8').trim();
      } catch {
        /* keep '?' */
      }
      throw new Error(`target-vm harness: lock ${path} still held by pid ${holder} after ${timeoutMs} ms`);
    }
    await sleep(200);
  }
}
