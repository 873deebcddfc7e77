// One discovery controller (DC) as stafd manages it (§4.3): connect with retry (3 s after the first failure,
// then 60 s, logged once), on success read the discovery log page (after Supported Log Pages when PLEO applies),
// re-read it on every Discovery Log Page Change notice at once, reconnect with back-off when the association dies,
// and age out when it was found by mDNS and stays unresponsive (§4.4).
import { EventEmitter } from 'node:events';
import { Timer } from '../common/timer.js';
import { log } from '../common/log.js';
import { jsonDumps, pyFloat } from '../common/pyfmt.js';
import type { TID } from '../common/tid.js';
import type { TimeSpan } from '../config/timespan.js';
import { DiscoveryLsp } from '../nvme/protocol/log-pages.js';
import { NvmeStatusError } from '../nvme/tcp/errors.js';
import type { DcAttributes, DcConnectRequest, DcLink, FabricsDriver } from './driver.js';
import { filterDiscoveryEntries, referralEntries, type Dlpe } from './dlpe.js';
import { Operation } from '../controllers/operation.js';

export type Origin = 'configured' | 'discovered' | 'referral';

export const RETRY_FIRST_SEC = 3;
export const RETRY_LATER_SEC = 60;
export const SUPPORTED_LOG_RETRY_SEC = 5;
export const REGISTER_RETRY_SEC = 5;
export const LOG_PAGE_RETRY_SEC = 20;

/** What a DC needs from the engine that owns it. */
export interface DcServices {
  driver: FabricsDriver;
  connectRequest(tid: TID): DcConnectRequest;
  pleoEnabled(): boolean;
  zeroconfPersistence(): TimeSpan;
  /** mDNS still reports this DC (a discovered DC is only aged while it is not) */
  stillAdvertised(tid: TID): boolean;
  countMalformedEntries(n: number): void;
  /** max-log-entries: a longer log page is refused from its header */
  maxLogEntries(): number;
}

export interface DiscoveryControllerEvents {
  /** a log page was read successfully (emit log_pages_changed, save the cache) */
  logPages: [];
  /** the referral entries differ from the previous read (reconfigure) */
  referralsChanged: [];
  /** a discovered DC stayed unresponsive past zeroconf-connections-persistence (reconfigure removes it) */
  unresponsiveExpired: [];
}

/** Python time.asctime(): `Sun Nov  3 09:05:01 2024` (local time). */
export function asctime(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class DiscoveryController extends EventEmitter<DiscoveryControllerEvents> {
  private pages: Dlpe[];
  /** json.dumps of `pages`, made once per log page read: get_all_log_pages stays cheap with many large logs */
  private pagesJson: string | undefined;
  attempts = 0;
  /** undefined before the first connect attempt ("connected": "None") */
  private everTried = false;
  private link: DcLink | undefined;
  private connecting = false;
  /** the connect in flight: resolves with the link, or undefined when it failed */
  private inflight: Promise<DcLink | undefined> | undefined;
  private disposed = false;
  /** disposed while a connect was in flight: the terminator waits for the connect before closing (§4.11) */
  parked = false;
  private readonly retryTimer: Timer;
  private connectOp: Operation | undefined;
  private logOp: Operation | undefined;
  private supportedOp: Operation | undefined;
  private registerOp: Operation | undefined;
  private readonly registerRetryTimer: Timer;
  private registerFailureLogged = false;
  private readonly logRetryTimer: Timer;
  private readonly supportedRetryTimer: Timer;
  private reading = false;
  private readAgain = false;
  /** associations in a row that died before a log page could be read: back-off for DCs that misbehave */
  private sessionFailures = 0;
  private sessionHadLog = false;
  private failureLogged = false;
  private logFailureLogged = false;
  private referralKey: string;
  /** LSP of the Get Log Page (PLEO when the DC supports it) */
  private lsp = 0;
  private unresponsiveSince: Date | undefined;
  private readonly unresponsiveTimer: Timer;
  /** past zeroconf-connections-persistence: the next reconfiguration removes this DC */
  unresponsiveExpired = false;

  constructor(
    public tid: TID,
    public origin: Origin,
    private readonly svc: DcServices,
    cachedPages: Dlpe[] = [],
  ) {
    super();
    this.pages = cachedPages;
    this.referralKey = JSON.stringify(referralEntries(cachedPages));
    this.retryTimer = new Timer(RETRY_LATER_SEC, () => void this.connect());
    this.logRetryTimer = new Timer(LOG_PAGE_RETRY_SEC, () => void this.readLog());
    this.supportedRetryTimer = new Timer(SUPPORTED_LOG_RETRY_SEC, () => void this.sync());
    this.registerRetryTimer = new Timer(REGISTER_RETRY_SEC, () => void this.sync());
    this.unresponsiveTimer = new Timer(1, () => {
      this.unresponsiveExpired = true;
      log().info(`${this.tid} Controller did not recover in time; removing it`);
      this.emit('unresponsiveExpired');
    });
  }

  get logPages(): Dlpe[] {
    return this.pages;
  }

  set logPages(p: Dlpe[]) {
    this.pages = p;
    this.pagesJson = undefined;
  }

  /** the log pages as Python json.dumps text */
  logPagesJson(): string {
    this.pagesJson ??= jsonDumps(this.pages);
    return this.pagesJson;
  }

  get device(): string {
    return this.link?.device ?? 'nvme?';
  }

  get connected(): boolean {
    return this.link?.alive ?? false;
  }

  /** Schedules the first connect attempt on the next turn of the event loop. */
  start(): void {
    this.retryTimer.fireSoon();
  }

  /** Reload: re-evaluate ageing with the new persistence value and refresh the log page. */
  reload(): void {
    if (this.unresponsiveSince && this.origin === 'discovered') this.armUnresponsive(this.unresponsiveSince);
    if (this.link?.alive) void this.sync();
    else if (!this.connecting) this.retryTimer.fireSoon();
  }

  private async connect(): Promise<void> {
    if (this.disposed || this.connecting || this.link) return;
    this.connecting = true;
    this.everTried = true;
    this.attempts++;
    this.connectOp ??= new Operation();
    let failure = '';
    const inflight = (async (): Promise<DcLink | undefined> => {
      try {
        return await this.svc.driver.connect(this.svc.connectRequest(this.tid));
      } catch (e) {
        failure = errText(e);
        return undefined;
      }
    })();
    this.inflight = inflight;
    const link = await inflight;
    this.inflight = undefined;
    this.connecting = false;
    // disposed meanwhile: dispose() parked this DC and closes the link per keep_connection
    if (this.disposed) return;
    if (!link) {
      this.connectFailed(failure);
      return;
    }
    this.connected_(link);
  }

  private connectFailed(message: string): void {
    this.connectOp?.failed(message);
    if (this.attempts === 1) this.retryTimer.interval = RETRY_FIRST_SEC;
    else this.retryTimer.interval = RETRY_LATER_SEC;
    if (!this.failureLogged) {
      this.failureLogged = true;
      log().error(
        `${this.tid} Failed to connect to controller. ${message} (retrying in ${RETRY_FIRST_SEC} s, then every ${RETRY_LATER_SEC} s)`,
      );
    } else log().debug(`${this.tid} connect attempt ${this.attempts} failed: ${message}`);
    this.retryTimer.start();
    this.noteUnresponsive();
  }

  private connected_(link: DcLink): void {
    this.link = link;
    this.attempts = 0;
    this.connectOp = undefined;
    this.failureLogged = false;
    this.retryTimer.interval = RETRY_LATER_SEC;
    this.retryTimer.stop();
    this.clearUnresponsive();
    this.sessionHadLog = false;
    log().info(`${this.tid} | ${link.device} - Connection established!`);
    link.on('logChange', () => {
      log().info(`${this.tid} | ${link.device} - Received AEN: Discovery log page change`);
      void this.readLog();
    });
    link.on('resync', () => void this.sync());
    link.on('lost', (reason) => this.lost(link, reason));
    void this.sync();
  }

  private lost(link: DcLink, reason: string): void {
    if (this.link !== link) return;
    this.link = undefined;
    this.logRetryTimer.stop();
    this.supportedRetryTimer.stop();
    this.registerRetryTimer.stop();
    if (this.disposed) return;
    this.sessionFailures = this.sessionHadLog ? 1 : this.sessionFailures + 1;
    const delay = this.sessionFailures <= 1 ? RETRY_FIRST_SEC : RETRY_LATER_SEC;
    log().warn(`${this.tid} | ${link.device} - Connection lost: ${reason}; reconnecting in ${delay} s`);
    this.retryTimer.start(delay);
    this.retryTimer.interval = delay;
  }

  /** TP8010 flow: DIM register with a DDC/CDC, Supported Log Pages when PLEO applies, then the log page. */
  private async sync(): Promise<void> {
    const link = this.link;
    if (!link?.alive || this.disposed) return;
    if (!(await this.register(link))) return;
    let lsp = 0;
    if (this.svc.pleoEnabled() && link.attributes.dctype !== 'cdc') {
      this.supportedOp ??= new Operation();
      try {
        const s = await link.supportedLogPages();
        this.supportedOp.succeeded();
        if (s.portLocalEntriesOnly) lsp = DiscoveryLsp.PLEO;
      } catch (e) {
        if (this.link !== link || !link.alive) return;
        if (!(e instanceof NvmeStatusError)) {
          this.supportedOp.failed(errText(e));
          this.supportedOp.retryTimer = this.supportedRetryTimer;
          this.supportedRetryTimer.start();
          return;
        }
        // A DC that does not implement LID 0x00 answers with a status: nvme-stas would retry forever and never
        // read the log page; stas takes it as "no PLEO" and goes on.
        this.supportedOp.succeeded();
        log().debug(`${this.tid} Supported Log Pages not available (${e.message}); reading the full log page`);
      }
    }
    this.lsp = lsp;
    await this.readLog();
  }

  /**
   * DIM register (TAS 0) when the DC is a DDC or CDC. A status from the DC is a registration error: warned about, and
   * the flow goes on. Any other failure retries every 5 s (logged once). Returns whether the flow may go on.
   */
  private async register(link: DcLink): Promise<boolean> {
    const dctype = link.attributes.dctype;
    if (dctype !== 'ddc' && dctype !== 'cdc') return true;
    if (!link.register) {
      log().debug(`${this.tid} explicit registration is not available with this fabrics driver`);
      return true;
    }
    this.registerRetryTimer.stop();
    this.registerOp ??= new Operation();
    try {
      await link.register();
      this.registerOp.succeeded();
    } catch (e) {
      if (this.link !== link || !link.alive || this.disposed) return false;
      if (!(e instanceof NvmeStatusError)) {
        this.registerOp.failed(errText(e));
        this.registerOp.retryTimer = this.registerRetryTimer;
        if (!this.registerFailureLogged) {
          this.registerFailureLogged = true;
          log().error(
            `${this.tid} Failed to register with discovery controller. ${errText(e)} (retrying every ${REGISTER_RETRY_SEC} s)`,
          );
        }
        this.registerRetryTimer.start();
        return false;
      }
      this.registerOp.succeeded();
      // libnvme's text is the bare status name; the codes stay for statuses without one
      const text = /^Reserved|status \(SCT/.test(e.statusText)
        ? e.statusText
        : e.statusText.replace(/ \(SCT=0x[0-9a-f]+ SC=0x[0-9a-f]+\)$/, '');
      log().warn(`${this.tid} | ${link.device} - Registration error. ${text}.`);
    }
    this.registerOp.retryTimer = undefined;
    this.registerFailureLogged = false;
    return this.link === link && link.alive && !this.disposed;
  }

  /** Reads the log page now; an AEN during a read triggers one more read right after it. */
  private async readLog(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    const link = this.link;
    if (!link?.alive || this.disposed) return;
    this.reading = true;
    this.logRetryTimer.stop();
    this.logOp ??= new Operation();
    try {
      do {
        this.readAgain = false;
        const entries = await link.readDiscoveryLog(this.lsp, this.svc.maxLogEntries());
        if (this.link !== link || this.disposed) return;
        const r = filterDiscoveryEntries(entries);
        if (r.malformed.length) {
          this.svc.countMalformedEntries(r.malformed.length);
          log().warn(
            `${this.tid} Discovery log page has ${r.malformed.length} malformed entr${r.malformed.length === 1 ? 'y' : 'ies'}, ignored: ` +
              r.malformed
                .slice(0, 5)
                .map((m) => `#${m.index}: ${m.reason}`)
                .join('; ') +
              (r.malformed.length > 5 ? '; ...' : ''),
          );
        }
        this.logPages = r.entries;
        this.logOp.succeeded();
        this.logOp.retryTimer = undefined;
        this.logFailureLogged = false;
        this.sessionHadLog = true;
        this.sessionFailures = 0;
        log().info(`${this.tid} | ${link.device} - Received discovery log pages (num records=${r.entries.length}).`);
        this.emit('logPages');
        const refKey = JSON.stringify(referralEntries(r.entries));
        if (refKey !== this.referralKey) {
          this.referralKey = refKey;
          this.emit('referralsChanged');
        }
      } while (this.readAgain && link.alive && !this.disposed);
    } catch (e) {
      if (this.link !== link || this.disposed || !link.alive) return; // 'lost' takes it from here
      this.logOp.failed(errText(e));
      this.logOp.retryTimer = this.logRetryTimer;
      if (!this.logFailureLogged) {
        this.logFailureLogged = true;
        log().error(`${this.tid} Failed to retrieve log pages. ${errText(e)} (retrying every ${LOG_PAGE_RETRY_SEC} s)`);
      }
      this.logRetryTimer.start();
    } finally {
      this.reading = false;
    }
    if (this.readAgain && this.link === link && link.alive) void this.readLog();
  }

  // ---------------------------------------------------------------------------------------- unresponsive ageing

  private noteUnresponsive(): void {
    if (this.origin !== 'discovered' || this.connected || this.svc.stillAdvertised(this.tid)) return;
    if (this.unresponsiveSince) return;
    this.armUnresponsive(new Date());
  }

  private armUnresponsive(since: Date): void {
    this.unresponsiveSince = since;
    const span = this.svc.zeroconfPersistence();
    this.unresponsiveTimer.stop();
    if (span.seconds < 0) {
      log().info(`${this.tid} Controller not responding. Retrying...`);
      return;
    }
    const left = Math.max(0, span.seconds - (Date.now() - since.getTime()) / 1000);
    this.unresponsiveTimer.start(left);
    this.unresponsiveTimer.interval = span.seconds;
    log().info(
      `${this.tid} Controller is not responding. Will be removed by ${asctime(new Date(since.getTime() + span.seconds * 1000))} unless restored`,
    );
  }

  private clearUnresponsive(): void {
    this.unresponsiveSince = undefined;
    this.unresponsiveExpired = false;
    this.unresponsiveTimer.stop();
  }

  /** The origin changed (e.g. a discovered DC is now also configured): ageing applies to discovered ones only. */
  setOrigin(origin: Origin): void {
    this.origin = origin;
    if (origin !== 'discovered') this.clearUnresponsive();
  }

  // -------------------------------------------------------------------------------------------- teardown

  /**
   * The terminator (nvme-stas §4.11): stops everything; `keepConnection` leaves a kernel connection in place. A DC
   * whose connect is still in flight is parked (`parked` is set before this returns its promise): a disconnect must
   * never overtake a pending connect, so the link is closed only once the connect settled.
   */
  async dispose(keepConnection: boolean): Promise<void> {
    this.disposed = true;
    this.retryTimer.stop();
    this.logRetryTimer.stop();
    this.supportedRetryTimer.stop();
    this.registerRetryTimer.stop();
    this.unresponsiveTimer.stop();
    let link = this.link;
    this.link = undefined;
    const inflight = this.inflight;
    if (!link && inflight) {
      this.parked = true;
      const then = keepConnection ? 'kept' : 'disconnected';
      log().info(`${this.tid} connect in progress: controller parked until the connect completes (then ${then})`);
      link = await inflight;
      log().info(
        `${this.tid} parked controller released: connect ${link ? `completed (${link.device}), connection ${then}` : 'failed, nothing to close'}`,
      );
    }
    if (link) {
      try {
        await link.close(keepConnection);
      } catch (e) {
        log().warn(`${this.tid} disconnect failed: ${errText(e)}`);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------- dictionaries

  /** controller-id dict (§1.6.1) */
  idDict(): Record<string, string> {
    return this.tid.idDict(this.device);
  }

  /** info dict (§1.6.2) */
  infoDict(): Record<string, string> {
    const d: Record<string, string> = { ...this.idDict() };
    d['connect attempts'] = String(this.attempts);
    d['retry connect timer'] = this.retryTimer.toString();
    if (this.connectOp) d['connect operation'] = this.connectOp.toString();
    d.origin = this.origin;
    if (this.origin === 'discovered') {
      const span = this.svc.zeroconfPersistence();
      d['unresponsive timer'] = this.unresponsiveTimer.toString();
      d['unresponsive timeout'] =
        span.seconds < 0 ? 'forever' : `${span.isFloat ? pyFloat(span.seconds) : String(span.seconds)} sec`;
      d['unresponsive time'] = this.unresponsiveSince ? asctime(this.unresponsiveSince) : '---';
    }
    if (this.logOp) d['get log page operation'] = this.logOp.toString();
    if (this.registerOp) d['register operation'] = this.registerOp.toString();
    if (this.supportedOp) d['get supported log page operation'] = this.supportedOp.toString();
    return d;
  }

  /** details dict (§1.6.3) */
  detailsDict(): Record<string, string> {
    const a: DcAttributes | undefined = this.link?.attributes;
    const clean = (v: string | undefined): string => (v === undefined || v === '(efault)' ? '' : v);
    return {
      ...this.infoDict(),
      hostid: clean(a?.hostid),
      hostnqn: clean(a?.hostnqn),
      model: clean(a?.model),
      serial: clean(a?.serial),
      dctype: clean(a?.dctype),
      cntrltype: clean(a?.cntrltype),
      connected: this.everTried ? (this.connected ? 'True' : 'False') : 'None',
    };
  }
}
