// Time as schedules see it. Production uses the system clock; tests drive a ManualClock through a year of
// schedule in milliseconds. All instants are UTC milliseconds since the epoch.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** calls `fn` once, `delayMs` from now (clamped at 0) */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
}

/** setTimeout cannot wait longer than 2^31-1 ms; longer waits are chained. */
const MAX_DELAY = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    let handle: NodeJS.Timeout | undefined;
    const due = Date.now() + Math.max(0, delayMs);
    const arm = (): void => {
      const left = due - Date.now();
      handle = setTimeout(left > MAX_DELAY ? arm : fn, Math.min(Math.max(0, left), MAX_DELAY));
      handle.unref?.();
    };
    arm();
    return { cancel: () => clearTimeout(handle) };
  },
};

interface PendingTimer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told. advanceTo() fires due timers in order, setting now() to each timer's due
 * time, and awaits the microtasks/async work each callback starts (via `settle`) before firing the next one.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(start: number) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: PendingTimer = { due: this.t + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  pendingCount(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** due time of the next live timer, or undefined */
  nextDue(): number | undefined {
    const live = this.timers.filter((t) => !t.cancelled);
    return live.length ? Math.min(...live.map((t) => t.due)) : undefined;
  }

  /** Moves time to `target`, firing every timer due on the way; `settle` is awaited after each firing. */
  async advanceTo(target: number, settle: () => Promise<void> = flushAsync): Promise<void> {
    for (let guard = 0; ; guard++) {
      if (guard > 10_000_000) throw new Error('ManualClock: too many timers (runaway schedule?)');
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: PendingTimer | undefined;
      for (const t of this.timers)
        if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t;
      if (!next) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.t = Math.max(this.t, next.due);
      next.fn();
      await settle();
    }
    this.t = Math.max(this.t, target);
  }

  async advanceBy(ms: number, settle?: () => Promise<void>): Promise<void> {
    await this.advanceTo(this.t + ms, settle);
  }
}

/** Lets pending promise chains run (several macrotask turns, enough for chained async store calls). */
export async function flushAsync(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}
