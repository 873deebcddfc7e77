// stacd's view of stafd (§5.2): watches the bus name org.nvmexpress.staf, listens to log_pages_changed and
// dc_removed, and asks get_all_log_pages(true). Keeps the last answer; "stafd did not answer" (absent, restarting,
// timing out, garbage) is kept apart from "stafd answered with no entries", so that silence never removes anything.
import { EventEmitter } from 'node:events';
import { callMethod, subscribeSignals, watchNameOwner, type MessageBus } from '../dbus/bus.js';
import { log } from '../common/log.js';
import type { TidContext } from '../common/tid.js';
import { iocsFromLogPages, type LearnedIoc } from './desired-state.js';
import type { DiscoveryKnowledge } from './planner.js';

export const STAF_NAME = 'org.nvmexpress.staf';
export const STAF_PATH = '/org/nvmexpress/staf';
export const STAF_IFACE = 'org.nvmexpress.staf';
const CALL_TIMEOUT_MS = 5_000;

export interface StafdFollowerEvents {
  /** a log_pages_changed / dc_removed signal */
  signal: [member: string];
  /** stafd got a bus owner ('' = it went away) */
  owner: [owner: string];
}

export type StafdAnswer = { answered: true; learned: LearnedIoc[]; problems: string[] } | { answered: false; reason: string };

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
        await subscribeSignals(this.bus, { sender: STAF_NAME, path: STAF_PATH, interface: STAF_IFACE, member }, () => this.emit('signal', member)),
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

  /** Asks stafd now, without changing what is remembered. */
  async fetch(ctx: TidContext): Promise<StafdAnswer> {
    if (!this.owner) return { answered: false, reason: 'stafd is not on the bus' };
    try {
      const [json] = await callMethod(
        this.bus,
        { destination: STAF_NAME, path: STAF_PATH, interface: STAF_IFACE, member: 'get_all_log_pages', signature: 'b', body: [true] },
        CALL_TIMEOUT_MS,
      );
      if (typeof json !== 'string') return { answered: false, reason: 'get_all_log_pages did not return a string' };
      const { iocs, problems } = iocsFromLogPages(json, ctx);
      return { answered: true, learned: iocs, problems };
    } catch (e) {
      const err = e as { text?: string; message?: string };
      return { answered: false, reason: `get_all_log_pages failed: ${err.text ?? err.message ?? String(e)}` };
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
