// stacd's view of stafd (§5.2): watches the bus name org.nvmexpress.staf, listens to log_pages_changed and
// dc_removed, and asks get_all_log_pages(true). Keeps the last answer; "stafd did not answer" (absent, restarting,
// timing out, garbage) is kept apart from "stafd answered with no entries", so that silence never removes anything.
import { EventEmitter } from 'node:events';
import { callMethod, subscribeSignals, watchNameOwner, type MessageBus } from '../dbus/bus.js';
import { log } from '../common/log.js';
import { replyTooLargeErrorName } from '../dbus/exported-object.js';
import type { TidContext } from '../common/tid.js';
import { iocsFromLogPages, type LearnedIoc } from './desired-state.js';
import type { DiscoveryKnowledge } from './planner.js';

export const STAF_NAME = 'org.nvmexpress.staf';
export const STAF_PATH = '/org/nvmexpress/staf';
export const STAF_IFACE = 'org.nvmexpress.staf';
const CALL_TIMEOUT_MS = 5_000;
const REPLY_TOO_LARGE = replyTooLargeErrorName(STAF_IFACE);

export interface StafdFollowerEvents {
  /** a log_pages_changed / dc_removed signal */
  signal: [member: string];
  /** stafd got a bus owner ('' = it went away) */
  owner: [owner: string];
}

export type StafdAnswer =
  { answered: true; learned: LearnedIoc[]; problems: string[] } | { answered: false; reason: string };

export class StafdFollower extends EventEmitter<StafdFollowerEvents> {
  owner = '';
  private learned: LearnedIoc[] = [];
  private knowledge: DiscoveryKnowledge = 'unknown';
  private lastReason = 'not asked yet';
  private unsubscribe: (() => Promise<void>)[] = [];

  constructor(private readonly bus: MessageBus) {
    super();
  }

  async start(): Promise<void> {
    for (const member of ['log_pages_changed', 'dc_removed']) {
      this.unsubscribe.push(
        await subscribeSignals(this.bus, { sender: STAF_NAME, path: STAF_PATH, interface: STAF_IFACE, member }, () =>
          this.emit('signal', member),
        ),
      );
    }
    this.unsubscribe.push(
      await watchNameOwner(this.bus, STAF_NAME, (owner) => {
        if (owner === this.owner) return;
        this.owner = owner;
        log().info(owner ? `stafd appeared on the bus (${owner})` : 'stafd left the bus; keeping what it last said');
        this.emit('owner', owner);
      }),
    );
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) await u().catch(() => undefined);
  }

  private call(member: string, signature: string, body: unknown[]): Promise<unknown[]> {
    return callMethod(
      this.bus,
      { destination: STAF_NAME, path: STAF_PATH, interface: STAF_IFACE, member, signature, body },
      CALL_TIMEOUT_MS,
    );
  }

  /** Asks stafd now, without changing what is remembered. */
  async fetch(ctx: TidContext): Promise<StafdAnswer> {
    if (!this.owner) return { answered: false, reason: 'stafd is not on the bus' };
    try {
      const [json] = await this.call('get_all_log_pages', 'b', [true]);
      if (typeof json !== 'string') return { answered: false, reason: 'get_all_log_pages did not return a string' };
      const { iocs, problems } = iocsFromLogPages(json, ctx);
      return { answered: true, learned: iocs, problems };
    } catch (e) {
      const err = e as { type?: string; text?: string; message?: string };
      if (err.type === REPLY_TOO_LARGE) return this.fetchPerDc(ctx);
      return { answered: false, reason: `get_all_log_pages failed: ${err.text ?? err.message ?? String(e)}` };
    }
  }

  /**
   * stafd refused get_all_log_pages as too large for one D-Bus message: the same answer, one DC at a time
   * (list_controllers, then get_log_pages each). Any refusal or failure there is no answer (what stacd knew stays).
   */
  private async fetchPerDc(ctx: TidContext): Promise<StafdAnswer> {
    try {
      const [dcs] = await this.call('list_controllers', 'b', [false]);
      if (!Array.isArray(dcs)) return { answered: false, reason: 'list_controllers did not return an array' };
      const doc: unknown[] = [];
      for (const dc of dcs as Record<string, string>[]) {
        const t = ['transport', 'traddr', 'trsvcid', 'subsysnqn', 'host-traddr', 'host-iface', 'host-nqn'].map(
          (k) => dc[k] ?? '',
        );
        const [pages] = await this.call('get_log_pages', 'sssssss', t);
        doc.push({ 'discovery-controller': dc, 'log-pages': pages });
      }
      const { iocs, problems } = iocsFromLogPages(JSON.stringify(doc), ctx);
      return { answered: true, learned: iocs, problems };
    } catch (e) {
      const err = e as { type?: string; text?: string; message?: string };
      // the text of a size refusal carries the size, which changes: keep the reason stable so it is logged once
      if (err.type === REPLY_TOO_LARGE)
        return {
          answered: false,
          reason: `stafd's log pages do not fit a D-Bus message, even one discovery controller at a time (${REPLY_TOO_LARGE})`,
        };
      return { answered: false, reason: `get_log_pages failed: ${err.text ?? err.message ?? String(e)}` };
    }
  }

  /** Asks stafd and remembers a real answer; on no answer, the last known set stays. */
  async refresh(ctx: TidContext): Promise<void> {
    const a = await this.fetch(ctx);
    if (a.answered) {
      for (const p of a.problems) log().warn(`stafd: ${p}`);
      this.learned = a.learned;
      this.knowledge = 'answered';
      this.lastReason = '';
    } else if (a.reason !== this.lastReason) {
      log().warn(`${a.reason}; keeping the ${this.learned.length} I/O controller(s) stafd last reported`);
      this.lastReason = a.reason;
    }
  }

  /** Last known answer; `unknown` until stafd has answered once in this process. */
  known(): { learned: readonly LearnedIoc[]; discovery: DiscoveryKnowledge; why: string } {
    return { learned: this.learned, discovery: this.knowledge, why: this.lastReason };
  }
}
