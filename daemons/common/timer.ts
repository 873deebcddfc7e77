// A restartable one-shot timer that can describe itself the way nvme-stas's GTimer does
// ("60.0s [off]", "3.0s [2.718932s]", "1.0s [0s]"): those strings appear in D-Bus replies.
import { pyFloat } from './pyfmt.js';

export class Timer {
  private handle: NodeJS.Timeout | undefined;
  private deadline = 0;

  constructor(
    private intervalSec: number,
    private readonly onFire: () => void,
  ) {}

  get interval(): number {
    return this.intervalSec;
  }

  set interval(sec: number) {
    this.intervalSec = sec;
  }

  get armed(): boolean {
    return this.handle !== undefined;
  }

  /** (Re)starts the countdown from now, optionally with a new interval. */
  start(intervalSec?: number): void {
    if (intervalSec !== undefined) this.intervalSec = intervalSec;
    this.stop();
    this.deadline = Date.now() + this.intervalSec * 1000;
    this.handle = setTimeout(
      () => {
        this.handle = undefined;
        this.onFire();
      },
      Math.max(0, this.intervalSec * 1000),
    );
    this.handle.unref?.();
  }

  /** Fires on the next turn of the event loop (nvme-stas "restart with 0"). */
  fireSoon(): void {
    this.stop();
    this.deadline = Date.now();
    this.handle = setTimeout(() => {
      this.handle = undefined;
      this.onFire();
    }, 0);
  }

  stop(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = undefined;
  }

  /** Seconds left, 0 when due, undefined when idle. */
  remaining(): number | undefined {
    if (!this.handle) return undefined;
    return Math.max(0, (this.deadline - Date.now()) / 1000);
  }

  toString(): string {
    const rem = this.remaining();
    if (rem === undefined) return `${pyFloat(this.intervalSec)}s [off]`;
    if (rem <= 0) return `${pyFloat(this.intervalSec)}s [0s]`;
    return `${pyFloat(this.intervalSec)}s [${pyFloat(Math.round(rem * 1e6) / 1e6)}s]`;
  }
}
