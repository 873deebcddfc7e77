// At most N I/O controller connects at a time (max-connects-in-flight): a discovery log listing thousands of
// subsystems must not open thousands of connections (sockets, kernel fabrics writes) at once. Waiters go in
// arrival order; the limit may change on reload and applies to the next start.

export class ConnectSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private limit: () => number) {}

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `fn` once a slot is free; the slot is released when its promise settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= Math.max(1, this.limit())) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      if (this.running < Math.max(1, this.limit())) this.waiting.shift()?.();
    }
  }
}
