// Transport identifier (TID): the identity of a controller everywhere in stas, as in nvme-stas (§3.6 of the spec).
// A TID is the 7-tuple (transport, traddr, trsvcid, subsysnqn, host-traddr, host-iface, host-nqn), normalised once
// at construction, plus the "config bag": every other key of the controller= line / NBFT entry / audit that created
// it (connect overrides like kato, dhchap secrets, src-addr, ...), in config order.

/** A value in a controller dict: text, or what a [Global] override converted it to. */
export type CidValue = string | number | boolean | readonly number[];
/** A controller dict in key order (a `controller=` line after tokenizing). */
export type Cid = ReadonlyArray<readonly [string, CidValue]>;

export const WELL_KNOWN_DISC_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
export const DISC_IP_PORT = '8009';
export const RDMA_IP_PORT = '4420';

/** Keys that make up the identity; everything else goes to the config bag. host-nqn is both (see idDict). */
const IDENTITY_KEYS = new Set(['transport', 'traddr', 'subsysnqn', 'trsvcid', 'host-traddr', 'host-iface']);
// Never shown on D-Bus or in logs (deliberate deviation from nvme-stas, which shows them in clear text).
import { canonicalKey, isSecretKey } from './secrets.js';
export { SECRET_KEYS, isSecretKey } from './secrets.js';

/** What normalisation depends on: the daemon's `ignore-iface` and the sys.conf host NQN. */
export interface TidContext {
  readonly ignoreIface: boolean;
  readonly hostNqn: string;
}

/** Python str() of a bag value: `True`, `17`, `(4, 6)`, text unchanged. */
export function pythonStr(v: CidValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  return v.length === 1 ? `(${v[0]},)` : `(${v.join(', ')})`;
}

export function cidGet(cid: Cid, key: string): CidValue | undefined {
  let found: CidValue | undefined;
  for (const [k, v] of cid) if (k === key) found = v; // last wins, like a dict assignment
  return found;
}

function text(v: CidValue | undefined): string {
  return v === undefined ? '' : typeof v === 'string' ? v : pythonStr(v);
}

export class TID {
  readonly transport: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subsysnqn: string;
  readonly hostTraddr: string;
  readonly hostIface: string;
  readonly hostNqn: string;
  /** config bag in config order (may hold secrets: never print it as a whole) */
  readonly cfg: ReadonlyMap<string, CidValue>;
  private readonly _key: string;

  private constructor(given: Cid, ctx: TidContext) {
    // keys in any spelling (`Host-Iface`, `dhchap_secret`) mean the same key: cache files and NBFT entries included
    const cid: Cid = given.map(([k, v]) => [canonicalKey(k), v] as const);
    this.transport = text(cidGet(cid, 'transport'));
    this.traddr = text(cidGet(cid, 'traddr'));
    const trsvcid = text(cidGet(cid, 'trsvcid'));
    // only IP transports have a port; tcp defaults to the discovery port (both daemons, as nvme-stas)
    this.trsvcid =
      this.transport === 'tcp' ? trsvcid || DISC_IP_PORT : this.transport === 'rdma' ? trsvcid || RDMA_IP_PORT : '';
    this.subsysnqn = text(cidGet(cid, 'subsysnqn'));
    this.hostTraddr = text(cidGet(cid, 'host-traddr'));
    this.hostIface = ctx.ignoreIface ? '' : text(cidGet(cid, 'host-iface'));
    this.hostNqn = text(cidGet(cid, 'host-nqn')) || ctx.hostNqn;
    const bag = new Map<string, CidValue>();
    for (const [k, v] of cid) if (!IDENTITY_KEYS.has(k)) bag.set(k, v);
    this.cfg = bag;
    this._key = JSON.stringify([
      this.transport,
      this.traddr,
      this.trsvcid,
      this.subsysnqn,
      this.hostTraddr,
      this.hostIface,
      this.hostNqn,
    ]);
  }

  /** From a controller dict (tokenized controller= line, NBFT entry, DLPE-derived dict, cache entry). */
  static fromCid(cid: Cid | Readonly<Record<string, CidValue>>, ctx: TidContext): TID {
    return new TID(Array.isArray(cid) ? (cid as Cid) : Object.entries(cid), ctx);
  }

  /** From the 7 strings of a D-Bus call (get_log_pages, controller_info): normalised the same way. */
  static fromTuple(
    t: {
      transport: string;
      traddr: string;
      trsvcid: string;
      subsysnqn: string;
      hostTraddr: string;
      hostIface: string;
      hostNqn: string;
    },
    ctx: TidContext,
  ): TID {
    return new TID(
      [
        ['transport', t.transport],
        ['traddr', t.traddr],
        ['trsvcid', t.trsvcid],
        ['subsysnqn', t.subsysnqn],
        ['host-traddr', t.hostTraddr],
        ['host-iface', t.hostIface],
        ['host-nqn', t.hostNqn],
      ],
      ctx,
    );
  }

  /** Stable string for Map keys; equal keys <=> equal TIDs (exact tuple equality, no IP canonicalisation). */
  key(): string {
    return this._key;
  }

  equals(other: TID): boolean {
    return this._key === other._key;
  }

  /** `(tcp, 10.10.10.10, 8009, nqn..., wlp0s20f3, 1.2.3.4)`: empty subsysnqn/host-iface/host-traddr are left out. */
  toString(): string {
    let s = `(${this.transport}, ${this.traddr}, ${this.trsvcid}`;
    if (this.subsysnqn) s += `, ${this.subsysnqn}`;
    if (this.hostIface) s += `, ${this.hostIface}`;
    if (this.hostTraddr) s += `, ${this.hostTraddr}`;
    return `${s})`;
  }

  /**
   * The controller-id dict of list_controllers(false) (§1.6.1), all values strings, in nvme-stas key order:
   * traddr, trsvcid, transport, subsysnqn, host-iface, host-traddr, bag keys (config order; a bag `host-nqn` keeps
   * its position but shows the TID's host NQN), host-nqn, device. dhchap secrets are left out on purpose.
   */
  idDict(device: string): Record<string, string> {
    const d: Record<string, string> = {
      traddr: this.traddr,
      trsvcid: this.trsvcid,
      transport: this.transport,
      subsysnqn: this.subsysnqn,
      'host-iface': this.hostIface,
      'host-traddr': this.hostTraddr,
    };
    for (const [k, v] of this.cfg) {
      if (isSecretKey(k) || k === 'device') continue;
      d[k] = k === 'host-nqn' ? this.hostNqn : pythonStr(v);
    }
    d['host-nqn'] = this.hostNqn;
    d.device = device;
    return d;
  }

  /**
   * Everything needed to rebuild this TID (cache files): identity + bag, typed. Contains secrets: for internal
   * persistence only (files readable by root only).
   */
  asCid(): Cid {
    const entries: [string, CidValue][] = [
      ['transport', this.transport],
      ['traddr', this.traddr],
      ['trsvcid', this.trsvcid],
      ['subsysnqn', this.subsysnqn],
      ['host-traddr', this.hostTraddr],
      ['host-iface', this.hostIface],
    ];
    for (const [k, v] of this.cfg) if (k !== 'host-nqn') entries.push([k, v]);
    entries.push(['host-nqn', this.hostNqn]);
    return entries;
  }

  /** The dict exclusion entries are matched against (identity + bag, values as nvme-stas holds them). */
  matchDict(): ReadonlyMap<string, CidValue> {
    return new Map(this.asCid());
  }

  /** A bag value (connect override, secret, src-addr...). */
  get(key: string): CidValue | undefined {
    return this.cfg.get(key);
  }
}
