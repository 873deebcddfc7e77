// Uevents of one subsystem (nvme). When systemd-udevd runs and the optional node-udev module is built, from libudev
// in-process (libudev-source.ts); otherwise `udevadm monitor --kernel --property --subsystem-match=nvme` as a child
// process, parsed into events, restarted with bounded exponential backoff if it dies. An optional periodic rescan
// hook lets the owner re-read sysfs to catch anything missed.
import { EventEmitter } from 'node:events';
import { execa, type ResultPromise } from 'execa';
import { log } from '../common/log.js';
import { UeventParser, type Uevent } from './uevent-parser.js';
import { LibudevSource, loadNodeUdev, udevdRunning } from './libudev-source.js';

export type UeventBackend = 'node-udev' | 'udevadm';

export interface UeventMonitorOptions {
  /** udevadm binary, default 'udevadm'. */
  udevadm?: string;
  /** --subsystem-match value, default 'nvme'. */
  subsystem?: string;
  /** Also print events after udevd processed them (needs udevd), default false. */
  udevEvents?: boolean;
  /** First restart delay, default 500 ms; doubles per failure up to maxBackoffMs. */
  minBackoffMs?: number;
  /** Restart delay ceiling, default 30 s. */
  maxBackoffMs?: number;
  /** A child that ran this long resets the backoff, default 10 s. */
  stableMs?: number;
  /** Emit 'rescan' this often (0 = never), default 0. Also emitted after every restart. */
  rescanIntervalMs?: number;
  /** Bound for start() to see udevadm subscribed, default 5 s. */
  startTimeoutMs?: number;
  /** 'auto' (default): node-udev when udevd runs and the module loads, else udevadm. */
  backend?: 'auto' | UeventBackend;
}

export interface UeventMonitorEvents {
  event: [Uevent];
  /** Re-read sysfs now: periodic, and after a restart (events may have been missed). */
  rescan: [reason: 'interval' | 'restart'];
  /** The child died; it will be restarted after delayMs. */
  restart: [info: { exitCode: number | undefined; signal: string | undefined; delayMs: number }];
}

export class UeventMonitor extends EventEmitter<UeventMonitorEvents> {
  private child: ResultPromise | undefined;
  private libudev: LibudevSource | undefined;
  /** which backend delivers the events (set by start()) */
  backend: UeventBackend | undefined;
  private stopped = true;
  private backoff: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private readonly o: Required<UeventMonitorOptions>;
  /** Times the child was (re)started. */
  starts = 0;

  constructor(opts: UeventMonitorOptions = {}) {
    super();
    this.o = {
      udevadm: opts.udevadm ?? 'udevadm',
      subsystem: opts.subsystem ?? 'nvme',
      udevEvents: opts.udevEvents ?? false,
      minBackoffMs: opts.minBackoffMs ?? 500,
      maxBackoffMs: opts.maxBackoffMs ?? 30_000,
      stableMs: opts.stableMs ?? 10_000,
      rescanIntervalMs: opts.rescanIntervalMs ?? 0,
      startTimeoutMs: opts.startTimeoutMs ?? 5_000,
      backend: opts.backend ?? 'auto',
    };
    this.backoff = this.o.minBackoffMs;
  }

  /** Starts udevadm and resolves once it is subscribed (its banner printed), so no later event is missed. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.o.rescanIntervalMs > 0) {
      this.rescanTimer = setInterval(() => this.emit('rescan', 'interval'), this.o.rescanIntervalMs);
      this.rescanTimer.unref();
    }
    if (this.o.backend !== 'udevadm' && (this.o.backend === 'node-udev' || udevdRunning())) {
      const { mod, reason } = loadNodeUdev();
      if (mod) {
        try {
          this.libudev = new LibudevSource(mod, this.o.subsystem);
          this.libudev.on('event', (ev) => this.emit('event', ev));
          this.backend = 'node-udev';
          log().info(`uevents: libudev (node-udev), subsystem ${this.o.subsystem}`);
          return;
        } catch (e) {
          if (this.o.backend === 'node-udev') {
            this.stop();
            throw new Error(`cannot start uevent monitor: node-udev: ${(e as Error).message}`);
          }
          log().warn(`uevents: node-udev failed (${(e as Error).message}); using udevadm monitor`);
        }
      } else if (this.o.backend === 'node-udev') {
        this.stop();
        throw new Error(`cannot start uevent monitor: node-udev is not available (${reason ?? 'not installed'})`);
      } else {
        log().debug(`uevents: node-udev not available (${reason ?? 'not installed'}); using udevadm monitor`);
      }
    }
    this.backend = 'udevadm';
    await this.spawn();
  }

  /** Stops the child and every timer. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.rescanTimer);
    this.child?.kill('SIGTERM');
    this.child = undefined;
    this.libudev?.close();
    this.libudev = undefined;
  }

  get running(): boolean {
    return this.child !== undefined || this.libudev !== undefined;
  }

  /** pid of the current udevadm (for tests of the restart path). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawn(): Promise<void> {
    const args = ['monitor', '--kernel', '--property', `--subsystem-match=${this.o.subsystem}`];
    if (this.o.udevEvents) args.splice(2, 0, '--udev');
    const parser = new UeventParser();
    const startedAt = Date.now();
    const child = execa(this.o.udevadm, args, { buffer: false, reject: false, stdin: 'ignore', stderr: 'ignore' });
    this.child = child;
    this.starts++;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        if (ready) return;
        ready = true;
        // no banner (another udevadm version?): carry on, events still flow
        log().warn({ udevadm: this.o.udevadm }, 'udevadm monitor printed no banner; assuming it is subscribed');
        resolve();
      }, this.o.startTimeoutMs);
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        for (const ev of parser.push(chunk)) this.emit('event', ev);
        if (!ready && parser.bannerSeen) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      });
      void child.then((r) => {
        for (const ev of parser.flush()) this.emit('event', ev);
        if (this.child === child) this.child = undefined;
        clearTimeout(timer);
        if (!ready) {
          ready = true;
          const msg =
            r.failed && r.exitCode === undefined
              ? r.message
              : `udevadm monitor exited (code ${r.exitCode ?? r.signal})`;
          if (this.starts === 1) {
            this.stopped = true;
            clearInterval(this.rescanTimer);
            reject(new Error(`cannot start uevent monitor: ${msg}`));
            return;
          }
          resolve();
        }
        if (this.stopped) return;
        if (Date.now() - startedAt >= this.o.stableMs) this.backoff = this.o.minBackoffMs;
        const delayMs = this.backoff;
        this.backoff = Math.min(this.backoff * 2, this.o.maxBackoffMs);
        log().warn({ exitCode: r.exitCode, signal: r.signal, delayMs }, 'udevadm monitor died; restarting');
        this.emit('restart', { exitCode: r.exitCode, signal: r.signal, delayMs });
        this.restartTimer = setTimeout(() => {
          if (this.stopped) return;
          this.spawn().then(
            () => this.emit('rescan', 'restart'),
            () => undefined, // a failed respawn ends in child.then again, which schedules the next try
          );
        }, delayMs);
      });
    });
  }
}

/** Resolves with the first event matching `pred`, or rejects after timeoutMs. */
export function waitForUevent(m: UeventMonitor, pred: (e: Uevent) => boolean, timeoutMs: number): Promise<Uevent> {
  return new Promise((resolve, reject) => {
    const onEvent = (e: Uevent): void => {
      if (!pred(e)) return;
      clearTimeout(timer);
      m.off('event', onEvent);
      resolve(e);
    };
    const timer = setTimeout(() => {
      m.off('event', onEvent);
      reject(new Error(`no matching uevent within ${timeoutMs} ms`));
    }, timeoutMs);
    m.on('event', onEvent);
  });
}
