// Deterministic pseudo-random numbers for tests that draw cases from a seed (fuzzing, fault injection), so that a
// failure replays from the seed it printed.

/** xorshift32: small, deterministic, good enough to pick fuzz cases. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export interface Rng {
  /** a uint32 */
  u32(): number;
  /** an integer in [0, n) */
  int(n: number): number;
  /** true with probability p */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
  /** an independent generator derived from this one (e.g. one per case, so cases replay alone) */
  fork(): Rng;
}

export function rng(seed: number): Rng {
  const next = xorshift32(seed);
  const r: Rng = {
    u32: next,
    int: (n) => (n <= 1 ? 0 : next() % n),
    chance: (p) => next() / 0x1_0000_0000 < p,
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from nothing');
      return items[next() % items.length]!;
    },
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = next() & 0xff;
      return b;
    },
    fork: () => rng(next() ^ 0x9e3779b9),
  };
  return r;
}
