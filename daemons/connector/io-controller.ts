// One I/O controller (IOC) as stacd tracks it (§5.5): connect with retry (3 s after the first failure, then 60 s,
// the reason logged once per distinct failure), stop retrying only under the NCC rule (connect-attempts-on-ncc),
// reconnect 3 s after the connection is lost, and the dicts list_controllers / controller_info show.
import { Timer } from '../common/timer.js';
import { log } from '../common/log.js';
import { pyRepr, type PyValue } from '../common/pyfmt.js';
import type { TID } from '../common/tid.js';
import { Operation } from '../controllers/operation.js';
import { shouldRetry, type DesiredOrigin, type TrackedIoc, type TrackedState } from './planner.js';
import type { Dlpe } from '../controllers/dlpe.js';
import type { IocConnectRequest, IocDriver, IocLink } from './driver.js';
import type { ConnectSlots } from './connect-slots.js';

export const RETRY_FIRST_SEC = 3;
export const RETRY_LATER_SEC = 60;
export const RETRY_AFTER_LOSS_SEC = 3;

export interface IocServices {
  driver: IocDriver;
  /** builds the connect request; throws (with the option named) when an option is unusable */
  connectRequest(tid: TID): IocConnectRequest;
  connectAttemptsOnNcc(): number;
  /** something changed that the cache should record (device, connection) */
  changed(): void;
  /** max-connects-in-flight: every connect waits for a slot */
  connectSlots: ConnectSlots;
}

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class IoController {
  attempts = 0;
  state: TrackedState = 'idle';
  private link: IocLink | undefined;
  private everTried = false;
  private readonly retryTimer: Timer;
  private op: Operation | undefined;
  private lastError = '';
  private disposed = false;
  private generation = 0;

  constructor(
    public tid: TID,
    public origin: DesiredOrigin,
    public madeByStas: boolean,
    public dlpe: Dlpe | undefined,
    public ncc: boolean,
    private readonly svc: IocServices,
    /** kernel device remembered from the cache (informative until the link exists) */
    private cachedDevice = 'nvme?',
    /** restored from the cache: an existing kernel controller found on connect is its own earlier connection */
    private readonly fromCache = false,
  ) {
    this.retryTimer = new Timer(RETRY_LATER_SEC, () => void this.connect());
  }

  get device(): string {
    return this.link?.device ?? (this.link === undefined && this.state === 'idle' ? this.cachedDevice : 'nvme?');
  }

  get connected(): boolean {
    return this.link?.alive ?? false;
  }

  snapshot(): TrackedIoc {
    return {
      tid: this.tid,
      origin: this.origin,
      madeByStas: this.madeByStas,
      state: this.state,
      attempts: this.attempts,
      device: this.device,
      ncc: this.ncc,
    };
  }

  /** A connect attempt now (plan step connect); `reset` zeroes the attempt counter first (NCC cleared). */
  connectNow(reset = false): void {
    if (reset) this.attempts = 0;
    if (this.state === 'connecting' || this.state === 'connected') return;
    this.retryTimer.fireSoon();
  }

  private async connect(): Promise<void> {
    if (this.disposed || this.state === 'connecting' || this.link?.alive) return;
    this.everTried = true;
    this.state = 'connecting';
    this.op ??= new Operation();
    const gen = ++this.generation;
    let link: IocLink;
    try {
      const req = this.svc.connectRequest(this.tid);
      link = await this.svc.connectSlots.run(() => {
        // disposed or superseded while waiting for a slot: no connect for nobody
        if (this.disposed || gen !== this.generation) return Promise.reject(new Error('connect no longer wanted'));
        return this.svc.driver.connect(req);
      });
    } catch (e) {
      if (this.disposed || gen !== this.generation) return;
      this.failed(errText(e));
      return;
    }
    if (this.disposed || gen !== this.generation) {
      // disposed meanwhile: a connection made for nobody is torn down again (it was ours)
      void link.close(!link.adopted).catch(() => undefined);
      return;
    }
    this.attach(link);
    log().info(
      `${this.tid} ${link.adopted ? 'adopted existing connection' : 'connected'}${link.device !== 'nvme?' ? ` as ${link.device}` : ''}`,
    );
  }

  /** Follow an existing kernel controller (plan step adopt). */
  async adopt(device: string): Promise<void> {
    this.state = 'connecting';
    const gen = ++this.generation;
    try {
      const link = await this.svc.driver.adopt(device, this.tid);
      if (this.disposed || gen !== this.generation) return;
      this.attach(link);
      log().info(`${this.tid} adopted existing kernel controller ${device} (not made by stas)`);
    } catch (e) {
      if (this.disposed) return;
      log().warn(`${this.tid} cannot adopt ${device}: ${errText(e)}; connecting instead`);
      this.state = 'idle';
      this.connectNow();
    }
  }

  private attach(link: IocLink): void {
    // a connect that found the connection already there did not make it (unless it is our own, from the cache)
    if (link.adopted && !this.fromCache) this.madeByStas = false;
    this.link = link;
    this.state = 'connected';
    this.attempts = 0;
    this.lastError = '';
    this.op = undefined;
    this.retryTimer.stop();
    this.retryTimer.interval = RETRY_LATER_SEC;
    link.on('lost', (reason) => {
      if (this.link !== link || this.disposed) return;
      this.link = undefined;
      this.state = 'retrying';
      log().warn(`${this.tid} connection lost (${reason}); reconnecting in ${RETRY_AFTER_LOSS_SEC} s`);
      this.retryTimer.start(RETRY_AFTER_LOSS_SEC);
      this.svc.changed();
    });
    this.svc.changed();
  }

  private failed(reason: string): void {
    this.attempts++;
    this.op?.failed(reason);
    const retry = shouldRetry(this.attempts, this.ncc, this.svc.connectAttemptsOnNcc());
    const delay = this.attempts === 1 ? RETRY_FIRST_SEC : RETRY_LATER_SEC;
    if (reason !== this.lastError) {
      log().error(
        `${this.tid} connect failed: ${reason}; ${retry ? `retrying in ${delay} s` : `giving up (NCC set, ${this.attempts} attempt(s), connect-attempts-on-ncc=${this.svc.connectAttemptsOnNcc()})`}`,
      );
      this.lastError = reason;
    } else {
      log().debug(`${this.tid} connect attempt ${this.attempts} failed again: ${reason}`);
    }
    if (retry) {
      this.state = 'retrying';
      this.retryTimer.start(delay);
      if (this.op) this.op.retryTimer = this.retryTimer;
    } else {
      this.state = 'gave-up';
      this.retryTimer.stop();
    }
  }

  /** New desired data (config bag, DLPE); identity unchanged. */
  update(tid: TID, dlpe: Dlpe | undefined, ncc: boolean): void {
    this.tid = tid;
    this.dlpe = dlpe;
    this.ncc = ncc;
  }

  /** Removes it from stacd: `disconnect` tears the connection down, otherwise it is left as it is. */
  async dispose(disconnect: boolean): Promise<void> {
    this.disposed = true;
    this.generation++;
    this.retryTimer.stop();
    const link = this.link;
    this.link = undefined;
    this.state = 'idle';
    if (link) {
      await link.close(disconnect);
      if (disconnect) log().info(`${this.tid} disconnected${link.device !== 'nvme?' ? ` (${link.device})` : ''}`);
    }
  }

  idDict(): Record<string, string> {
    return this.tid.idDict(this.device);
  }

  infoDict(): Record<string, string> {
    const d = this.idDict();
    d['connect attempts'] = String(this.attempts);
    d['retry connect timer'] = this.retryTimer.toString();
    if (this.op && this.state !== 'connected') d['connect operation'] = this.op.toString();
    return d;
  }

  detailsDict(): Record<string, string> {
    const d = this.infoDict();
    const a = this.link?.attributes;
    d.hostid = a?.hostid ?? '';
    d.hostnqn = a?.hostnqn ?? '';
    d.model = a?.model ?? '';
    d.serial = a?.serial ?? '';
    d.dctype = a?.dctype ?? '';
    d.cntrltype = a?.cntrltype ?? '';
    d.connected = this.everTried || this.link ? (this.connected ? 'True' : 'False') : 'None';
    d.dlpe = this.dlpe ? pyRepr(this.dlpe as Record<string, PyValue>) : 'None';
    d['dlpe.eflags.ncc'] = this.ncc ? 'True' : 'False';
    return d;
  }
}
