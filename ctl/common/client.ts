// How the CLIs reach a daemon: D-Bus only, with errors classified so that "not running" and
// "access denied" are told apart in the message and the exit code.
import { connectSystemBus, callMethod, waitConnected, type MessageBus, type CallSpec } from '../../daemons/dbus/bus.js';
import { existsSync } from 'node:fs';
import { isDBusError } from '../../daemons/dbus/errors.js';

export const EXIT = {
  OK: 0,
  /** any other failure (a D-Bus error reply, bad data) */
  FAILURE: 1,
  /** command-line usage error */
  USAGE: 2,
  /** the daemon is not running (nobody owns its bus name) */
  NOT_RUNNING: 3,
  /** the bus refused the call (policy: not root) */
  ACCESS_DENIED: 4,
  /** no system bus to talk to */
  NO_BUS: 5,
  /** the daemon did not answer in time */
  TIMEOUT: 6,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly kind: string,
  ) {
    super(message);
  }
}

export interface DaemonTarget {
  prog: 'stafd' | 'stacd';
  busName: string;
  objectPath: string;
}

export const STAFD: DaemonTarget = {
  prog: 'stafd',
  busName: 'org.nvmexpress.staf',
  objectPath: '/org/nvmexpress/staf',
};
export const STACD: DaemonTarget = {
  prog: 'stacd',
  busName: 'org.nvmexpress.stac',
  objectPath: '/org/nvmexpress/stac',
};

export function classify(e: unknown, target: DaemonTarget): CliError {
  if (e instanceof CliError) return e;
  const busAddr = process.env.DBUS_SYSTEM_BUS_ADDRESS ?? 'unix:path=/var/run/dbus/system_bus_socket';
  if (isDBusError(e)) {
    switch (e.type) {
      case 'org.freedesktop.DBus.Error.ServiceUnknown':
      case 'org.freedesktop.DBus.Error.NameHasNoOwner':
        return new CliError(
          `${target.prog} is not running (nobody owns ${target.busName} on the system bus)`,
          EXIT.NOT_RUNNING,
          'not-running',
        );
      case 'org.freedesktop.DBus.Error.AccessDenied':
        return new CliError(
          `access denied by the D-Bus policy for ${target.busName}: ${e.text} (this operation needs root)`,
          EXIT.ACCESS_DENIED,
          'access-denied',
        );
      case 'org.freedesktop.DBus.Error.Timeout':
      case 'org.freedesktop.DBus.Error.NoReply':
        return new CliError(`${target.prog} did not answer in time: ${e.text}`, EXIT.TIMEOUT, 'timeout');
      default:
        return new CliError(`${target.prog}: ${e.text || e.type} (${e.type})`, EXIT.FAILURE, 'dbus-error');
    }
  }
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT' || err?.code === 'ECONNREFUSED' || err?.code === 'EACCES') {
    return new CliError(`cannot connect to the system bus at ${busAddr}: ${err.message}`, EXIT.NO_BUS, 'no-bus');
  }
  return new CliError(`${target.prog}: ${(e as Error)?.message ?? String(e)}`, EXIT.FAILURE, 'error');
}

export class DaemonClient {
  private bus: MessageBus | undefined;

  constructor(
    readonly target: DaemonTarget,
    private readonly timeoutMs = 15_000,
  ) {}

  private async connect(): Promise<MessageBus> {
    if (this.bus) return this.bus;
    const addr = process.env.DBUS_SYSTEM_BUS_ADDRESS ?? 'unix:path=/var/run/dbus/system_bus_socket';
    const m = /^unix:path=([^,;]+)/.exec(addr);
    if (m && !existsSync(m[1]!)) {
      throw new CliError(
        `cannot connect to the system bus at ${addr}: no such socket (is dbus-daemon running?)`,
        EXIT.NO_BUS,
        'no-bus',
      );
    }
    const bus = connectSystemBus();
    let connError: unknown;
    bus.on('error', (e: unknown) => (connError = e));
    try {
      await waitConnected(bus, 5_000);
    } catch (e) {
      bus.disconnect();
      throw classify(connError ?? e, this.target);
    }
    this.bus = bus;
    return bus;
  }

  async call(
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
    path = this.target.objectPath,
  ): Promise<unknown[]> {
    const bus = await this.connect();
    const spec: CallSpec = { destination: this.target.busName, path, interface: iface, member, signature, body };
    try {
      return await callMethod(bus, spec, this.timeoutMs);
    } catch (e) {
      throw classify(e, this.target);
    }
  }

  async getProperty(iface: string, name: string, path = this.target.objectPath): Promise<unknown> {
    const [v] = await this.call('org.freedesktop.DBus.Properties', 'Get', 'ss', [iface, name], path);
    return (v as { value: unknown }).value;
  }

  async setProperty(
    iface: string,
    name: string,
    signature: string,
    value: unknown,
    path = this.target.objectPath,
  ): Promise<void> {
    const { Variant } = (await import('dbus-next')).default;
    await this.call(
      'org.freedesktop.DBus.Properties',
      'Set',
      'ssv',
      [iface, name, new Variant(signature, value)],
      path,
    );
  }

  close(): void {
    this.bus?.disconnect();
    this.bus = undefined;
  }
}
