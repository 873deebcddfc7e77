// The tests' short form of D-Bus calls to one destination, on daemons/dbus/bus.ts's callMethod:
// call(path, iface, member, signature, body) and prop(path, iface, name).
import type dbus from 'dbus-next';
import { callMethod, type MessageBus } from '../../daemons/dbus/bus.js';

export interface DestinationCalls {
  call(
    path: string,
    iface: string,
    member: string,
    signature?: string,
    body?: unknown[],
    timeoutMs?: number,
  ): Promise<unknown[]>;
  /** a property's value (Properties.Get, unwrapped) */
  prop(path: string, iface: string, name: string): Promise<unknown>;
}

/** Calls to destination over the connection `client()` returns (a getter: test files connect in before()). */
export function callsTo(client: () => MessageBus, destination: string, defaultTimeoutMs = 60_000): DestinationCalls {
  const call: DestinationCalls['call'] = (
    path,
    iface,
    member,
    signature = '',
    body = [],
    timeoutMs = defaultTimeoutMs,
  ) => callMethod(client(), { destination, path, interface: iface, member, signature, body }, timeoutMs);
  return {
    call,
    prop: async (path, iface, name) => {
      const [v] = await call(path, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [iface, name]);
      return (v as dbus.Variant).value;
    },
  };
}
