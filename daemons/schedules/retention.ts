// The retention planner: pure, so `stacctl snapshot gc --dry-run --explain` shows exactly what GC would do.
//
// Semantics (deliberately simple to explain):
//  - a held snapshot is always kept ("hold"), whoever made it;
//  - a snapshot the schedule did not make (meta.createdBy ≠ schedule) is always kept ("not-created-by-schedule");
//  - keep-at-least K: the K newest snapshots the schedule made are kept;
//  - keep-hourly/daily/weekly/monthly/yearly N: bucket the schedule's snapshots by calendar period in the
//    schedule's time zone; the newest snapshot of each of the N most recent buckets that hold a snapshot is kept.
//    Rules are independent: one snapshot can be kept by several of them (all are listed);
//  - max-age A: snapshots older than A are not considered by the bucket rules (keep-at-least and holds still win);
//    with max-age and no bucket counts, every snapshot younger than A is kept;
//  - anything else the schedule made is pruned. A schedule with none of these settings prunes nothing.
import type { SnapshotRef } from './snapshot-store.js';
import { toNaive } from './zone.js';
import { formatTimeSpan } from '../config/timespan.js';

export const PERIODS = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type Period = (typeof PERIODS)[number];

export interface RetentionPolicy {
  /** the schedule whose snapshots this policy may prune */
  schedule: string;
  /** IANA zone in which bucket boundaries (midnight, Monday, 1st of month, 1 January) are drawn */
  timeZone: string;
  keep: Partial<Record<Period, number>>;
  maxAgeMs?: number;
  keepAtLeast?: number;
}

export interface RetentionDecision {
  snapshot: SnapshotRef;
  keep: boolean;
  /** why, one entry per rule that applied; each starts with the rule's name ("keep-daily: …") */
  rules: string[];
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Bucket label of an instant for a period, in the zone (bucket boundaries are wall-clock boundaries). */
export function bucketOf(instant: number, period: Period, tz: string): string {
  const d = new Date(toNaive(instant, tz));
  const y = d.getUTCFullYear();
  const m = pad(d.getUTCMonth() + 1);
  const day = pad(d.getUTCDate());
  switch (period) {
    case 'hourly':
      return `${y}-${m}-${day} ${pad(d.getUTCHours())}h`;
    case 'daily':
      return `${y}-${m}-${day}`;
    case 'weekly': {
      // weeks start on Monday (ISO 8601)
      const monday = new Date(Date.UTC(y, d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7)));
      return `week of ${monday.getUTCFullYear()}-${pad(monday.getUTCMonth() + 1)}-${pad(monday.getUTCDate())}`;
    }
    case 'monthly':
      return `${y}-${m}`;
    case 'yearly':
      return `${y}`;
  }
}

export function hasRetention(policy: RetentionPolicy): boolean {
  return (
    PERIODS.some((p) => (policy.keep[p] ?? 0) > 0) || policy.maxAgeMs !== undefined || policy.keepAtLeast !== undefined
  );
}

function newestFirst(a: SnapshotRef, b: SnapshotRef): number {
  return b.createdAt - a.createdAt || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);
}

/** Decides, for every snapshot of one volume, whether the policy keeps it and why. Newest first. */
export function planRetention(
  snapshots: readonly SnapshotRef[],
  policy: RetentionPolicy,
  now: number,
): RetentionDecision[] {
  const sorted = [...snapshots].sort(newestFirst);
  const rules = new Map<SnapshotRef, string[]>(sorted.map((s) => [s, []]));
  const add = (s: SnapshotRef, rule: string): void => void rules.get(s)!.push(rule);

  for (const s of sorted) if (s.meta.hold !== undefined) add(s, `hold: ${s.meta.hold || '(no reason given)'}`);
  const own = sorted.filter((s) => s.meta.createdBy === policy.schedule);
  for (const s of sorted) {
    if (s.meta.createdBy !== policy.schedule) {
      add(
        s,
        s.meta.createdBy
          ? `not-created-by-schedule: made by schedule "${s.meta.createdBy}"`
          : 'not-created-by-schedule: manual snapshot',
      );
    }
  }
  const configured = hasRetention(policy);
  if (!configured) for (const s of own) add(s, 'no-retention: the schedule has no keep-*/max-age settings');

  if (configured) {
    const k = policy.keepAtLeast ?? 0;
    own.slice(0, k).forEach((s, i) => add(s, `keep-at-least: ${i + 1} of ${k} newest`));

    const young = own.filter((s) => policy.maxAgeMs === undefined || now - s.createdAt <= policy.maxAgeMs);
    const bucketRules = PERIODS.filter((p) => (policy.keep[p] ?? 0) > 0);
    for (const period of bucketRules) {
      const n = policy.keep[period]!;
      const seen = new Set<string>();
      for (const s of young) {
        const b = bucketOf(s.createdAt, period, policy.timeZone);
        if (seen.has(b)) continue;
        seen.add(b);
        if (seen.size > n) break;
        add(s, `keep-${period}: newest in ${b} (${seen.size} of ${n})`);
      }
    }
    if (bucketRules.length === 0 && policy.maxAgeMs !== undefined) {
      for (const s of young)
        add(s, `max-age: ${formatTimeSpan(now - s.createdAt)} old, within ${formatTimeSpan(policy.maxAgeMs)}`);
    }
  }

  return sorted.map((s) => {
    const r = rules.get(s)!;
    if (r.length > 0) return { snapshot: s, keep: true, rules: r };
    const why =
      policy.maxAgeMs !== undefined && now - s.createdAt > policy.maxAgeMs
        ? `max-age: ${formatTimeSpan(now - s.createdAt)} old, older than ${formatTimeSpan(policy.maxAgeMs)}`
        : 'no-rule-keeps-it: not the newest of any kept bucket, not within keep-at-least';
    return { snapshot: s, keep: false, rules: [why] };
  });
}

/**
 * Free-space guard order: snapshots the schedule may delete to make room, oldest first — its own snapshots that
 * are not held and not within keep-at-least (bucket rules yield to a full pool, holds and keep-at-least do not).
 */
export function pruneOldestFirstCandidates(snapshots: readonly SnapshotRef[], policy: RetentionPolicy): SnapshotRef[] {
  const own = [...snapshots].filter((s) => s.meta.createdBy === policy.schedule).sort(newestFirst);
  const protectedCount = policy.keepAtLeast ?? 0;
  return own
    .slice(protectedCount)
    .filter((s) => s.meta.hold === undefined)
    .reverse();
}
