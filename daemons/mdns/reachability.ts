// TCP reachability of an mDNS-discovered DC before it is handed to the finder (spec §4.5).
// nvme-stas binds the probe socket to the interface (SO_BINDTODEVICE); Node cannot, so the connect uses an
// address of that interface as its source address, which on Linux selects the same route in practice.
import { connect } from 'node:net';
import { log } from '../common/log.js';
import { isLinkLocalIpv6, localAddressOn, unmapIpv4 } from './netif.js';
import { OneShotTimer, realClock, type Clock } from './timers.js';
import { isIPv6 } from 'node:net';

/** nvme-stas's sequence is [2, 5, 10, 30, 60, 300, 600] with the 2 consumed at creation: retries use the rest. */
export const REACHABILITY_RETRY_MS: readonly number[] = [5_000, 10_000, 30_000, 60_000, 300_000, 600_000];
export const CONNECT_CHECK_TIMEOUT_MS = 5_000;

export interface ProbeTarget {
  address: string;
  port: number;
  ifname: string;
}

/** One TCP connect attempt; resolves when the three-way handshake completes, rejects otherwise. */
export function tcpProbe(target: ProbeTarget, timeoutMs = CONNECT_CHECK_TIMEOUT_MS): Promise<void> {
  let host = unmapIpv4(target.address);
  const v6 = isIPv6(host);
  if (v6 && isLinkLocalIpv6(host) && !host.includes('%') && target.ifname) host = `${host}%${target.ifname}`;
  const localAddress = target.ifname
    ? localAddressOn(target.ifname, v6 ? 'IPv6' : 'IPv4', v6 && isLinkLocalIpv6(host))
    : undefined;
  return new Promise<void>((resolve, reject) => {
    const sock = connect({
      host,
      port: target.port,
      ...(localAddress ? { localAddress: localAddress.split('%')[0] } : {}),
    });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    });
  });
}

export interface ReachabilityOptions {
  retryMs?: readonly number[];
  connectTimeoutMs?: number;
  clock?: Clock;
  /** the probe itself (tests may replace it; the default is a real TCP connect) */
  probe?: (target: ProbeTarget, timeoutMs: number) => Promise<void>;
}

/** Probes until the target answers once, then stays reachable (it is not re-checked, as in nvme-stas). */
export class ReachabilityChecker {
  private retryIndex = 0;
  private failures = 0;
  private stopped = false;
  private _reachable = false;
  private readonly timer: OneShotTimer;
  private readonly retryMs: readonly number[];

  constructor(
    private readonly target: ProbeTarget,
    private readonly onReachable: () => void,
    private readonly opts: ReachabilityOptions = {},
  ) {
    this.retryMs = opts.retryMs ?? REACHABILITY_RETRY_MS;
    this.timer = new OneShotTimer(this.retryMs[0] ?? 5_000, () => void this.check(), opts.clock ?? realClock);
  }

  get reachable(): boolean {
    return this._reachable;
  }

  start(): void {
    void this.check();
  }

  stop(): void {
    this.stopped = true;
    this.timer.stop();
  }

  private async check(): Promise<void> {
    if (this.stopped || this._reachable) return;
    const probe = this.opts.probe ?? tcpProbe;
    const { address, port, ifname } = this.target;
    try {
      await probe(this.target, this.opts.connectTimeoutMs ?? CONNECT_CHECK_TIMEOUT_MS);
    } catch (e) {
      if (this.stopped) return;
      const why = e instanceof Error ? e.message : String(e);
      const text = `Unable to verify TCP connectivity - (${ifname}, ${address}, ${port}): ${why}`;
      if (this.failures++ === 0) log().info(text);
      else log().debug(text);
      const delay = this.retryMs[Math.min(this.retryIndex, this.retryMs.length - 1)] ?? 600_000;
      this.retryIndex++;
      this.timer.start(delay);
      return;
    }
    if (this.stopped) return;
    this._reachable = true;
    log().debug(`TCP connectivity verified - (${ifname}, ${address}, ${port})`);
    this.onReachable();
  }
}
