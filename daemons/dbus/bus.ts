// Connection to the (system) bus, bus-name ownership, and outgoing calls that cannot hang.
// dbus-next has no call timeout: every outgoing call in stas goes through callMethod().
import dbus from 'dbus-next';
import { dbusError, DBUS_ERR_TIMEOUT } from './errors.js';

export type MessageBus = dbus.MessageBus;
export type Message = dbus.Message;

/** Default timeout of an outgoing call (D-Bus's own default is 25 s; ours is shorter for a daemon). */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/** The system bus, or the bus named by DBUS_SYSTEM_BUS_ADDRESS (tests, demo). */
export function connectSystemBus(): MessageBus {
  return dbus.systemBus();
}

/**
 * Calls `onLost(reason)` once when the connection to the bus is gone: a stream error (EPIPE when dbus-daemon dropped
 * us, e.g. for a message over its size limit) or the bus closing the stream. dbus-next reports the latter only at the
 * next write, which may never come for a quiet daemon, so the connection's own 'end' is watched too.
 */
export function onConnectionLost(bus: MessageBus, onLost: (reason: string) => void): void {
  let done = false;
  const lost = (reason: string): void => {
    if (done) return;
    done = true;
    onLost(reason);
  };
  bus.on('error', (e: unknown) => lost((e as Error)?.message ?? String(e)));
  const conn = (bus as unknown as { _connection?: { on(ev: 'end', cb: () => void): void } })._connection;
  conn?.on('end', () => lost('the bus closed the connection'));
}

/** Resolves once the connection is authenticated (bus.name is set), or rejects on error/timeout. */
export async function waitConnected(bus: MessageBus, timeoutMs = 5_000): Promise<void> {
  // GetId forces the handshake and proves the connection works (a system bus policy allows it, unlike Peer.Ping).
  await callMethod(
    bus,
    {
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'GetId',
    },
    timeoutMs,
  );
}

export interface CallSpec {
  destination: string;
  path: string;
  interface: string;
  member: string;
  signature?: string;
  body?: unknown[];
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(dbusError(DBUS_ERR_TIMEOUT, `${what}: no reply within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** A method call with a timeout; returns the reply body (an empty array for no-body replies). */
export async function callMethod(
  bus: MessageBus,
  spec: CallSpec,
  timeoutMs = DEFAULT_CALL_TIMEOUT_MS,
): Promise<unknown[]> {
  const msg = new dbus.Message({
    destination: spec.destination,
    path: spec.path,
    interface: spec.interface,
    member: spec.member,
    signature: spec.signature ?? '',
    body: spec.body ?? [],
  });
  const reply = await withTimeout(bus.call(msg), timeoutMs, `${spec.interface}.${spec.member} on ${spec.destination}`);
  return (reply?.body as unknown[] | undefined) ?? [];
}

const NAME_PRIMARY_OWNER = 1;

/** Takes a well-known name as nvme-stas does (ALLOW_REPLACEMENT); anything but primary ownership is fatal. */
export async function requestBusName(bus: MessageBus, name: string): Promise<void> {
  const reply = await withTimeout(
    bus.requestName(name, dbus.NameFlag.ALLOW_REPLACEMENT),
    DEFAULT_CALL_TIMEOUT_MS,
    `RequestName ${name}`,
  );
  if (reply !== NAME_PRIMARY_OWNER) {
    throw new Error(`cannot own D-Bus name ${name} (RequestName reply ${reply}: already owned by another process?)`);
  }
}

/** Current unique-name owner of a well-known name, or undefined. */
export async function getNameOwner(bus: MessageBus, name: string, timeoutMs = 2_000): Promise<string | undefined> {
  try {
    const [owner] = await callMethod(
      bus,
      {
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'GetNameOwner',
        signature: 's',
        body: [name],
      },
      timeoutMs,
    );
    return typeof owner === 'string' ? owner : undefined;
  } catch {
    return undefined;
  }
}

export const BUS_DRIVER = 'org.freedesktop.DBus';
const BUS_PATH = '/org/freedesktop/DBus';
/** signals of a well-known sender that arrive before its owner is known wait here (then are judged), at most this many */
const MAX_EARLY_SIGNALS = 64;

export interface SignalRule {
  /**
   * Who may send these signals: the bus itself (org.freedesktop.DBus), a unique name (":1.42"), or a well-known name,
   * which stands for whichever unique name owns it at the time. Required: anyone on the bus may send any signal,
   * and a signal addressed to us (destination = our unique name) reaches us whatever our match rules say.
   */
  sender: string;
  path?: string;
  interface?: string;
  member?: string;
  arg0?: string;
}

function busDriverCall(bus: MessageBus, member: string, arg: string): Promise<unknown[]> {
  return callMethod(bus, {
    destination: BUS_DRIVER,
    path: BUS_PATH,
    interface: BUS_DRIVER,
    member,
    signature: 's',
    body: [arg],
  });
}

/** Subscribes to signals matching a rule and sent by `rule.sender`; the listener gets every such message.
 *  Returns an unsubscribe function. */
export async function subscribeSignals(
  bus: MessageBus,
  rule: SignalRule,
  listener: (msg: Message) => void,
): Promise<() => Promise<void>> {
  const parts = ["type='signal'", `sender='${rule.sender}'`];
  if (rule.path) parts.push(`path='${rule.path}'`);
  if (rule.interface) parts.push(`interface='${rule.interface}'`);
  if (rule.member) parts.push(`member='${rule.member}'`);
  if (rule.arg0 !== undefined) parts.push(`arg0='${rule.arg0}'`);
  const match = parts.join(',');
  const matches = (msg: Message): boolean =>
    msg.type === dbus.MessageType.SIGNAL &&
    (!rule.path || msg.path === rule.path) &&
    (!rule.interface || msg.interface === rule.interface) &&
    (!rule.member || msg.member === rule.member) &&
    (rule.arg0 === undefined || msg.body?.[0] === rule.arg0);

  // The bus stamps every message with the unique name of its real sender: that is what is checked. A well-known
  // sender is followed through its owner (undefined until the first answer; '' while nobody owns it).
  const wellKnown = rule.sender !== BUS_DRIVER && !rule.sender.startsWith(':');
  let owner: string | undefined = wellKnown ? undefined : rule.sender;
  const early: Message[] = [];
  let unwatchOwner: (() => Promise<void>) | undefined;
  if (wellKnown) {
    unwatchOwner = await subscribeSignals(
      bus,
      { sender: BUS_DRIVER, path: BUS_PATH, interface: BUS_DRIVER, member: 'NameOwnerChanged', arg0: rule.sender },
      (msg) => {
        const o = msg.body?.[2];
        owner = typeof o === 'string' ? o : '';
      },
    );
  }
  const onMessage = (msg: Message): void => {
    if (!matches(msg)) return;
    if (owner === undefined) {
      if (early.length < MAX_EARLY_SIGNALS) early.push(msg);
      return;
    }
    if (owner !== '' && msg.sender === owner) listener(msg);
  };
  bus.on('message', onMessage);
  await busDriverCall(bus, 'AddMatch', match);
  if (wellKnown) {
    // a NameOwnerChanged that arrived before this answer is older than it: the answer wins
    owner = (await getNameOwner(bus, rule.sender)) ?? '';
    for (const msg of early.splice(0)) onMessage(msg);
  }
  return async () => {
    bus.removeListener('message', onMessage);
    await busDriverCall(bus, 'RemoveMatch', match).catch(() => undefined);
    await unwatchOwner?.();
  };
}

/** Calls `onChange(owner)` whenever the owner of `name` changes ('' = gone), and once with the current owner.
 *  Only the bus itself is believed about ownership. */
export async function watchNameOwner(
  bus: MessageBus,
  name: string,
  onChange: (owner: string) => void,
): Promise<() => Promise<void>> {
  const unsubscribe = await subscribeSignals(
    bus,
    { sender: BUS_DRIVER, path: BUS_PATH, interface: BUS_DRIVER, member: 'NameOwnerChanged', arg0: name },
    (msg) => {
      const newOwner = msg.body?.[2];
      onChange(typeof newOwner === 'string' ? newOwner : '');
    },
  );
  onChange((await getNameOwner(bus, name)) ?? '');
  return unsubscribe;
}
