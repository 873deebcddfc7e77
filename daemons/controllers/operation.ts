// What nvme-stas shows of an asynchronous operation on a controller ("connect operation", "get log page
// operation", ...): a Python-repr dict `{'fail count': 0, 'completed': True, 'alive': True}`, plus
// `'retry timer'` and `'error'` when applicable.
import { pyRepr, type PyValue } from '../common/pyfmt.js';
import type { Timer } from '../common/timer.js';

export class Operation {
  failCount = 0;
  completed = false;
  alive = true;
  error: string | undefined;
  retryTimer: Timer | undefined;

  succeeded(): void {
    this.completed = true;
    this.error = undefined;
  }

  failed(message: string): void {
    this.failCount++;
    this.completed = false;
    this.error = message;
  }

  toString(): string {
    const d: Record<string, PyValue> = { 'fail count': this.failCount, completed: this.completed, alive: this.alive };
    if (this.retryTimer) d['retry timer'] = this.retryTimer.toString();
    if (this.error !== undefined) d.error = this.error;
    return pyRepr(d);
  }
}
