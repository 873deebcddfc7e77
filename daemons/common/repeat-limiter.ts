// Log flood control: the same line (level and text) is let through `burst` times per window; further repeats are
// counted, not written, and reported once per window as "N more lines like this one suppressed". A hostile or
// broken peer that makes a daemon warn per entry, per retry or per packet then costs a few lines a minute, not
// megabytes; different lines never hold each other back.

export interface SuppressedLine {
  key: string;
  count: number;
}

export class RepeatLimiter {
  private readonly seen = new Map<string, { start: number; admitted: number; suppressed: number }>();

  constructor(
    private readonly burst = 5,
    private readonly windowMs = 60_000,
    /** lines tracked at once; beyond it the oldest is forgotten (its repeats are then let through again) */
    private readonly maxKeys = 2_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** true when a line with this key may be written now */
  admit(key: string): boolean {
    const t = this.now();
    let e = this.seen.get(key);
    if (!e || t - e.start >= this.windowMs) {
      if (!e && this.seen.size >= this.maxKeys) this.seen.delete(this.seen.keys().next().value as string);
      e = { start: t, admitted: 0, suppressed: e?.suppressed ?? 0 };
      this.seen.set(key, e);
    }
    if (e.admitted < this.burst) {
      e.admitted++;
      return true;
    }
    e.suppressed++;
    return false;
  }

  /** the lines held back since the last drain (then forgotten); lines whose window has ended are dropped */
  drain(): SuppressedLine[] {
    const t = this.now();
    const out: SuppressedLine[] = [];
    for (const [key, e] of this.seen) {
      if (e.suppressed > 0) out.push({ key, count: e.suppressed });
      e.suppressed = 0;
      if (t - e.start >= this.windowMs) this.seen.delete(key);
    }
    return out;
  }
}
