// The reconfiguration plan (§4.2 steps 4-9), separate from carrying it out: which DCs stafd should manage, with
// which origin, given the configured DCs, the mDNS-advertised ones, the referrals in the log pages of the current
// DCs, exclusions and address validity. Pure: no I/O, no timers.
import type { TID, TidContext } from '../common/tid.js';
import { TID as TidClass } from '../common/tid.js';
import type { Origin } from './discovery-controller.js';
import type { Dlpe } from './dlpe.js';

/** Referral chains longer than this are not followed (a DC that refers to ever new addresses). */
export const MAX_REFERRAL_DEPTH = 8;

export interface CurrentDc {
  tid: TID;
  origin: Origin;
  unresponsiveExpired: boolean;
  logPages: readonly Dlpe[];
}

export interface PlanInput {
  /** configured DCs, already resolved and filtered (excludes, ip-family, invalid) */
  configured: readonly TID[];
  /** mDNS-advertised reachable DCs */
  advertised: readonly TID[];
  current: ReadonlyMap<string, CurrentDc>;
  excluded(tid: TID): boolean;
  /** tcp/rdma traddr must be an address of an enabled family; fc/loop always valid */
  valid(tid: TID): boolean;
  tidContext: TidContext;
  /** referral targets followed from one DC's log page (max-referrals-per-controller); default unlimited */
  maxReferralsPerDc?: number;
  /** referral DCs in total (max-referrals); default unlimited */
  maxReferrals?: number;
}

export interface PlannedDc {
  tid: TID;
  origin: Origin;
}

export interface Plan {
  /** every DC to manage after this pass, with its origin */
  want: Map<string, PlannedDc>;
  toAdd: PlannedDc[];
  /** keys of current DCs to delete */
  toDel: string[];
  /** referrals not followed, with why (self-reference, too deep, over a cap) */
  ignoredReferrals: string[];
}

/** The DC a referral entry points to, with the referring DC's host-side fields. */
export function referralTid(referrer: TID, e: Dlpe, ctx: TidContext): TID {
  return TidClass.fromCid(
    [
      ['transport', e.trtype ?? ''],
      ['traddr', e.traddr ?? ''],
      ['trsvcid', e.trsvcid ?? ''],
      ['subsysnqn', e.subnqn ?? ''],
      ['host-traddr', referrer.hostTraddr],
      ['host-iface', referrer.hostIface],
      ['host-nqn', referrer.hostNqn],
    ],
    ctx,
  );
}

const sameEndpoint = (a: TID, b: TID): boolean =>
  a.transport === b.transport && a.traddr === b.traddr && a.trsvcid === b.trsvcid;

export function planReconfiguration(input: PlanInput): Plan {
  const want = new Map<string, PlannedDc>();
  const ignoredReferrals: string[] = [];
  const usable = (t: TID): boolean => !input.excluded(t) && input.valid(t);

  for (const t of input.configured) if (!want.has(t.key())) want.set(t.key(), { tid: t, origin: 'configured' });
  for (const t of input.advertised)
    if (usable(t) && !want.has(t.key())) want.set(t.key(), { tid: t, origin: 'discovered' });
  // discovered DCs stay until they are excluded, invalid or aged out (an mDNS goodbye alone does not remove them)
  for (const [k, c] of input.current) {
    if (c.origin !== 'discovered' || want.has(k)) continue;
    if (c.unresponsiveExpired || !usable(c.tid)) continue;
    want.set(k, { tid: c.tid, origin: 'discovered' });
  }

  // Referrals: followed breadth-first from the non-referral DCs, so a chain that no longer starts at a configured
  // or discovered DC (including a cycle of DCs referring to each other) disappears, and no chain grows unbounded.
  // A hostile DC can list any number of referrals: each DC's are followed up to maxReferralsPerDc, all of them up
  // to maxReferrals; the rest is counted and reported (once per pass, the caller logs each text once).
  const perDc = input.maxReferralsPerDc ?? Infinity;
  const total = input.maxReferrals ?? Infinity;
  let referrals = 0;
  let overTotal = 0;
  let frontier = [...want.keys()];
  for (let depth = 1; depth <= MAX_REFERRAL_DEPTH && frontier.length > 0; depth++) {
    const next: string[] = [];
    for (const k of frontier) {
      const referrer = input.current.get(k);
      if (!referrer) continue; // not connected yet: no log page to follow
      let named = 0;
      let overPerDc = 0;
      for (const e of referrer.logPages) {
        if (e.subtype !== 'referral') continue;
        const t = referralTid(referrer.tid, e, input.tidContext);
        if (sameEndpoint(t, referrer.tid)) {
          ignoredReferrals.push(`${referrer.tid} refers to itself`);
          continue;
        }
        if (!usable(t)) continue;
        if (++named > perDc) {
          overPerDc++;
          continue;
        }
        if (want.has(t.key())) continue;
        if (referrals >= total) {
          overTotal++;
          continue;
        }
        referrals++;
        want.set(t.key(), { tid: t, origin: 'referral' });
        next.push(t.key());
      }
      if (overPerDc > 0)
        ignoredReferrals.push(
          `${referrer.tid} lists ${named} referrals: ${overPerDc} beyond max-referrals-per-controller=${perDc} not followed`,
        );
    }
    frontier = next;
  }
  if (overTotal > 0) ignoredReferrals.push(`${overTotal} referral(s) beyond max-referrals=${total} not followed`);
  if (frontier.some((k) => (input.current.get(k)?.logPages ?? []).some((e) => e.subtype === 'referral'))) {
    ignoredReferrals.push(`referral chain deeper than ${MAX_REFERRAL_DEPTH} not followed`);
  }

  const toAdd = [...want.entries()].filter(([k]) => !input.current.has(k)).map(([, v]) => v);
  const toDel = [...input.current.keys()].filter((k) => !want.has(k));
  return { want, toAdd, toDel, ignoredReferrals };
}
