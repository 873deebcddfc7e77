// A small QMP client over the monitor's unix socket: greeting, capability negotiation, commands matched to
// their replies by id (each bounded by a timeout), and events to listeners. The storage daemon's monitor
// serves one client at a time; when the connection drops, every pending command fails at once.
import { connect, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import {
  LineSplitter,
  parseQmpLine,
  encodeQmpCommand,
  QmpProtocolError,
  type QmpEvent,
  type QmpGreeting,
} from './framing.js';

export { QmpProtocolError, type QmpEvent } from './framing.js';

/** QEMU answered a command with an error (class as QEMU names it, e.g. GenericError, DeviceNotFound). */
export class QmpCommandError extends Error {
  override readonly name = 'QmpCommandError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`${command}: ${desc} (${errorClass})`);
  }
}

/** No reply in time, or the connection went away before it came. */
export class QmpConnectionError extends Error {
  override readonly name = 'QmpConnectionError';
}

interface Pending {
  command: string;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export interface QmpConnectOptions {
  /** bound for the connect + greeting + qmp_capabilities exchange */
  timeoutMs?: number;
  /** default bound per command */
  commandTimeoutMs?: number;
}

/** emits "event" (QmpEvent) and "close" (Error | undefined) */
export class QmpClient extends EventEmitter {
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private closed = false;
  readonly greeting: QmpGreeting;

  private constructor(
    private readonly sock: Socket,
    greeting: QmpGreeting,
    private readonly commandTimeoutMs: number,
  ) {
    super();
    this.greeting = greeting;
  }

  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const sock = connect(path);
    const splitter = new LineSplitter();
    const early: string[] = [];
    const greeting = await new Promise<QmpGreeting>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new QmpConnectionError(`${path}: no QMP greeting within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const fail = (e: Error): void => {
        clearTimeout(timer);
        sock.off('data', onData);
        sock.destroy();
        reject(e);
      };
      const onData = (chunk: Buffer): void => {
        try {
          early.push(...splitter.push(chunk.toString('utf8')));
          const first = early.shift();
          if (first === undefined) return;
          const m = parseQmpLine(first);
          if (m.kind !== 'greeting') throw new QmpProtocolError(`${path}: expected the QMP greeting, got ${m.kind}`);
          clearTimeout(timer);
          sock.off('data', onData);
          sock.off('error', fail);
          resolve(m);
        } catch (e) {
          fail(e as Error);
        }
      };
      sock.on('data', onData);
      sock.once('error', fail);
      sock.once('close', () => fail(new QmpConnectionError(`${path}: closed before the QMP greeting`)));
    });
    sock.removeAllListeners('close');
    const client = new QmpClient(sock, greeting, opts.commandTimeoutMs ?? 60_000);
    client.wire(splitter, early);
    await client.execute('qmp_capabilities', undefined, timeoutMs);
    return client;
  }

  private wire(splitter: LineSplitter, early: string[]): void {
    const handle = (line: string): void => {
      const m = parseQmpLine(line);
      if (m.kind === 'event') this.emit('event', m satisfies QmpEvent);
      else if (m.kind === 'return' || m.kind === 'error') {
        const p = m.id === undefined ? undefined : this.pending.get(m.id);
        if (!p) return; // a reply to a command that already timed out
        this.pending.delete(m.id as string);
        clearTimeout(p.timer);
        if (m.kind === 'return') p.resolve(m.value);
        else p.reject(new QmpCommandError(p.command, m.errorClass, m.desc));
      }
    };
    const onData = (chunk: Buffer): void => {
      try {
        for (const line of splitter.push(chunk.toString('utf8'))) handle(line);
      } catch (e) {
        this.shutdown(e as Error);
      }
    };
    for (const line of early) handle(line);
    this.sock.on('data', onData);
    this.sock.on('error', (e) => this.shutdown(e));
    this.sock.on('close', () => this.shutdown(new QmpConnectionError('QMP connection closed')));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends a command; resolves with its "return" value, rejects with QmpCommandError / QmpConnectionError. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = this.commandTimeoutMs): Promise<T> {
    if (this.closed) return Promise.reject(new QmpConnectionError(`${command}: QMP connection closed`));
    const id = `stas-${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpConnectionError(`${command}: no QMP reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: (v) => resolve(v as T), reject, timer });
      this.sock.write(encodeQmpCommand(command, args, id));
    });
  }

  /** Resolves with the first event for which `match` is true; rejects after timeoutMs or when the connection closes. */
  waitEvent(match: (e: QmpEvent) => boolean, timeoutMs: number, what = 'event'): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      const onEvent = (e: QmpEvent): void => {
        if (!match(e)) return;
        done();
        resolve(e);
      };
      const onClose = (): void => {
        done();
        reject(new QmpConnectionError(`QMP connection closed while waiting for ${what}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new QmpConnectionError(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('event', onEvent);
      this.once('close', onClose);
    });
  }

  close(): void {
    this.shutdown(undefined);
    this.sock.destroy();
  }

  private shutdown(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new QmpConnectionError(`${p.command}: ${err?.message ?? 'QMP connection closed'}`));
      this.pending.delete(id);
    }
    this.emit('close', err);
  }
}
