// Injectable clock and a stoppable one-shot timer that reports itself the way nvme-stas's GTimer does (spec §1.9).

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // a daemon's housekeeping timers must never keep a finished process alive
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Python float repr for the values that appear here: 60 → "60.0", 1.5 → "1.5", 44.0229131 → "44.022913". */
export function pyFloat(seconds: number): string {
  const rounded = Math.round(seconds * 1e6) / 1e6;
  return Number.isInteger(rounded) ? `${rounded}.0` : String(rounded);
}

/** A one-shot timer: start() (re)arms it, cancel() disarms it, stop() kills it for good. */
export class OneShotTimer {
  private handle: unknown;
  private dueAt: number | undefined;
  private killed = false;

  constructor(
    private intervalMs: number,
    private readonly fire: () => void,
    private readonly clock: Clock = realClock,
  ) {}

  get interval(): number {
    return this.intervalMs;
  }

  get armed(): boolean {
    return this.dueAt !== undefined;
  }

  /** Arms the timer from now (restarting it if already armed); optionally with a new interval. */
  start(intervalMs?: number): void {
    if (this.killed) return;
    if (intervalMs !== undefined) this.intervalMs = intervalMs;
    this.cancel();
    this.dueAt = this.clock.now() + this.intervalMs;
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      this.dueAt = undefined;
      this.fire();
    }, this.intervalMs);
  }

  cancel(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.dueAt = undefined;
  }

  stop(): void {
    this.cancel();
    this.killed = true;
  }

  /** `"60.0s [44.022913s]"` armed, `"60.0s [off]"` idle, `"None"` once stopped. */
  toString(): string {
    if (this.killed) return 'None';
    const interval = `${pyFloat(this.intervalMs / 1000)}s`;
    if (this.dueAt === undefined) return `${interval} [off]`;
    const remaining = (this.dueAt - this.clock.now()) / 1000;
    return `${interval} [${remaining <= 0 ? '0' : pyFloat(remaining)}s]`;
  }
}
