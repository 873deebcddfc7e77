// Uevents through libudev (the optional `udev` npm package, node-udev) when systemd-udevd runs: events come from
// udevd's netlink group after its rules ran, in-process, with no child to restart. Without udevd (containers, the
// busybox VM) or without the native module (not built: no compiler or libudev-dev), the monitor falls back to
// `udevadm monitor --kernel` (monitor.ts).
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Uevent } from './uevent-parser.js';

/** systemd-udevd's control socket: present while udevd runs. */
export const UDEVD_CONTROL = '/run/udev/control';

export function udevdRunning(controlPath: string = UDEVD_CONTROL): boolean {
  return existsSync(controlPath);
}

/** What node-udev's Monitor is: an EventEmitter emitting (action, { syspath, ...properties }). */
interface NodeUdevMonitor extends EventEmitter {
  close(): void;
}
interface NodeUdev {
  monitor(subsystem?: string): NodeUdevMonitor;
}

let cached: { mod: NodeUdev | null; reason?: string } | undefined;

/** node-udev if it is installed and its native part loads; null otherwise, with the reason for the log. */
export function loadNodeUdev(): { mod: NodeUdev | null; reason?: string } {
  if (cached) return cached;
  try {
    const mod = createRequire(import.meta.url)('udev') as unknown;
    if (typeof (mod as Partial<NodeUdev>).monitor !== 'function') throw new Error('unexpected module shape');
    cached = { mod: mod as NodeUdev };
  } catch (e) {
    cached = { mod: null, reason: (e as Error).message.split('\n')[0] };
  }
  return cached;
}

const UDEV_ACTIONS = ['add', 'remove', 'change', 'move', 'online', 'offline', 'bind', 'unbind'] as const;

/**
 * node-udev's native monitor must never be closed: its close() frees the poll handle and the udev monitor that its
 * destructor frees again when the object is collected (a double free). So there is one native monitor per subsystem
 * for the life of the process, fanned out to the current sources; a daemon ends with process.exit, not by draining
 * its event loop, so the open netlink socket never holds it up.
 */
const shared = new Map<string, EventEmitter<{ event: [Uevent] }>>();

function sharedMonitor(lib: NodeUdev, subsystem: string): EventEmitter<{ event: [Uevent] }> {
  let fan = shared.get(subsystem);
  if (!fan) {
    const mon = lib.monitor(subsystem);
    const out = new EventEmitter<{ event: [Uevent] }>();
    out.setMaxListeners(0);
    // node-udev emits the action as the event name, through the emit it captured at construction: listen to each
    for (const action of UDEV_ACTIONS) {
      mon.on(action, (raw: unknown) => {
        if (raw && typeof raw === 'object') out.emit('event', toUevent(action, raw as Record<string, unknown>));
      });
    }
    fan = out;
    shared.set(subsystem, fan);
  }
  return fan;
}

/** The uevents of one subsystem from libudev, until close(). */
export class LibudevSource extends EventEmitter<{ event: [Uevent] }> {
  private readonly fan: EventEmitter<{ event: [Uevent] }>;
  private readonly forward = (ev: Uevent): void => {
    this.emit('event', ev);
  };

  constructor(lib: NodeUdev, subsystem: string) {
    super();
    this.fan = sharedMonitor(lib, subsystem);
    this.fan.on('event', this.forward);
  }

  close(): void {
    this.fan.off('event', this.forward);
  }
}

function toUevent(action: string, raw: Record<string, unknown>): Uevent {
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string' && k !== 'syspath') properties[k] = v;
  properties['ACTION'] ??= action;
  const syspath = typeof raw['syspath'] === 'string' ? raw['syspath'] : '';
  const devpath = properties['DEVPATH'] ?? syspath.replace(/^\/sys/, '');
  return {
    source: 'UDEV',
    // libudev gives USEC_INITIALIZED, not the event time; monotonic seconds keep the field's meaning
    timestamp: performance.now() / 1000,
    action,
    devpath,
    subsystem: properties['SUBSYSTEM'] ?? '',
    properties,
  };
}
