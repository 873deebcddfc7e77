// Who is calling: the D-Bus sender of the method call being handled, carried through all of its async work, so
// that work done for an unprivileged client can be bounded and ranked behind root's (issue #17: a flood of
// read-only calls by `nobody` must not deny service to root).
import { AsyncLocalStorage } from 'node:async_hooks';
import { callMethod, BUS_DRIVER, type MessageBus } from './bus.js';
import { dbusError } from './errors.js';

export interface Caller {
  /** unique bus name of the calling connection */
  readonly sender: string;
  /** the connection's unix uid, asked from the bus once per sender; undefined when the bus would not say */
  uid(): Promise<number | undefined>;
}

const context = new AsyncLocalStorage<Caller>();
/** unique names are never reused on a bus, so an answer stays true; bounded all the same */
const uids = new WeakMap<MessageBus, Map<string, Promise<number | undefined>>>();
const MAX_CACHED_UIDS = 4096;

function uidOf(bus: MessageBus, sender: string): Promise<number | undefined> {
  let cache = uids.get(bus);
  if (!cache) uids.set(bus, (cache = new Map()));
  let uid = cache.get(sender);
  if (!uid) {
    uid = callMethod(
      bus,
      {
        destination: BUS_DRIVER,
        path: '/org/freedesktop/DBus',
        interface: BUS_DRIVER,
        member: 'GetConnectionUnixUser',
        signature: 's',
        body: [sender],
      },
      5_000,
    ).then(
      ([u]) => (typeof u === 'number' ? u : undefined),
      () => undefined,
    );
    if (cache.size >= MAX_CACHED_UIDS) cache.delete(cache.keys().next().value as string);
    cache.set(sender, uid);
  }
  return uid;
}

/** Runs `fn` (and everything it starts) as work done for `sender`. */
export function runAsCaller<T>(bus: MessageBus, sender: string | null | undefined, fn: () => T): T {
  if (!sender) return fn();
  return context.run({ sender, uid: () => uidOf(bus, sender) }, fn);
}

/** The client the current work is done for; undefined for the daemon's own work (timers, start-up, jobs it runs). */
export function currentCaller(): Caller | undefined {
  return context.getStore();
}

/** True when the current work is done for a client that is not root (the daemon's own work is privileged). */
export async function forUnprivilegedCaller(): Promise<boolean> {
  const c = currentCaller();
  return c !== undefined && (await c.uid()) !== 0;
}

export interface CallerLimits {
  /** calls of one non-root user running at once */
  perUser: number;
  /** calls of one non-root user waiting for a turn; beyond that a call is refused */
  queuePerUser: number;
  /** calls of one connection running or waiting; beyond that a call is refused */
  perSender: number;
  /** the D-Bus error name of a refusal */
  errorName: string;
}

/** Bounds what unprivileged users can have in progress; root's calls and the daemon's own work are not counted. */
export class CallerLimiter {
  private readonly users = new Map<number, { running: number; waiting: (() => void)[] }>();
  private readonly senders = new Map<string, number>();

  constructor(readonly limits: CallerLimits) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const caller = currentCaller();
    const uid = caller ? await caller.uid() : 0;
    if (!caller || uid === 0) return fn();
    const { perUser, queuePerUser, perSender, errorName } = this.limits;
    const key = uid ?? -1; // a connection whose uid the bus would not tell counts as one more user
    const mine = this.senders.get(caller.sender) ?? 0;
    if (mine >= perSender)
      throw dbusError(
        errorName,
        `too many calls in progress from ${caller.sender} (at most ${perSender}); wait for their answers`,
      );
    let user = this.users.get(key);
    if (!user) this.users.set(key, (user = { running: 0, waiting: [] }));
    if (user.running >= perUser && user.waiting.length >= queuePerUser)
      throw dbusError(
        errorName,
        `too many calls in progress for uid ${key} (${perUser} running, ${queuePerUser} waiting); try again later`,
      );
    this.senders.set(caller.sender, mine + 1);
    try {
      if (user.running < perUser) user.running++;
      else await new Promise<void>((resolve) => user.waiting.push(resolve)); // the finishing call hands its turn over
      try {
        return await fn();
      } finally {
        const next = user.waiting.shift();
        if (next) next();
        else if (--user.running === 0) this.users.delete(key);
      }
    } finally {
      const left = (this.senders.get(caller.sender) ?? 1) - 1;
      if (left > 0) this.senders.set(caller.sender, left);
      else this.senders.delete(caller.sender);
    }
  }
}
