// Waiting in tests, the one way: poll a condition until it holds, or race a promise against a bound. Every wait
// has a bound and says what it waited for when the bound is reached (no fixed sleeps anywhere in the tests).

export interface WaitOptions {
  timeoutMs: number;
  /** poll period (default 100 ms) */
  intervalMs?: number;
  /** an error for which waiting longer is pointless (a daemon that exited): rethrown at once */
  fatal?: (e: unknown) => boolean;
}

/**
 * Polls `check` until it returns something other than `undefined` (or `false`), and resolves with it. An error
 * thrown by `check` counts as "not yet" (and is quoted on timeout) unless `fatal` says otherwise. `what` may be a
 * function, for a message that shows the state at the time of failure (a log tail).
 */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitOptions | number,
): Promise<T> {
  const { timeoutMs, intervalMs = 100, fatal } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  const name = (): string => (typeof what === 'string' ? what : what());
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      if (fatal?.(e)) throw new Error(`while waiting for ${name()}: ${(e as Error).message}`);
      last = e;
    }
    if (Date.now() > deadline) {
      const why = last ? ` (last error: ${(last as Error).message ?? String(last)})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${name()}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `p`, or a rejection naming `what` when it has not settled within `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]);
}

/** Resolves once the wall clock has moved past the current second (names with 1 s timestamps then differ). */
export function nextSecond(): Promise<number> {
  const now = Math.floor(Date.now() / 1000);
  return waitFor('the next wall-clock second', () => (Math.floor(Date.now() / 1000) > now ? Date.now() : undefined), {
    timeoutMs: 5_000,
    intervalMs: 20,
  });
}
