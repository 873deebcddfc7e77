// Snapshot freshness as a Nagios/Icinga plugin reports it: one status line, perfdata, exit code 0-3.
import { formatTimeSpan } from '../config/timespan.js';

export const CHECK_OK = 0;
export const CHECK_WARNING = 1;
export const CHECK_CRITICAL = 2;
export const CHECK_UNKNOWN = 3;
const STATUS = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;
export type CheckStatus = (typeof STATUS)[number];

export interface VolumeFreshness {
  volume: string;
  /** number of snapshots of the volume */
  count: number;
  /** creation time of its newest snapshot (UTC ms), null when it has none */
  newest: number | null;
}

export interface FreshnessCheckInput {
  volumes: readonly VolumeFreshness[];
  warnMs: number;
  critMs: number;
  now: number;
  /** volumes asked for by name that do not exist */
  unknownVolumes?: readonly string[];
}

export interface FreshnessCheckResult {
  code: 0 | 1 | 2 | 3;
  status: CheckStatus;
  /** the plugin output: `SNAPSHOTS OK - 3 volumes, newest snapshot age max 42m | 'vol1'=2520s;…` */
  line: string;
  volumes: { volume: string; count: number; newest: number | null; ageMs: number | null; status: CheckStatus }[];
}

/** Perfdata labels are quoted; a quote inside is doubled (Nagios plugin guidelines). */
function perfLabel(s: string): string {
  return `'${s.replace(/'/g, "''")}_age'`;
}

export function evaluateFreshness(input: FreshnessCheckInput): FreshnessCheckResult {
  const { warnMs, critMs, now } = input;
  const unknown = (msg: string): FreshnessCheckResult => ({
    code: CHECK_UNKNOWN,
    status: 'UNKNOWN',
    line: `SNAPSHOTS UNKNOWN - ${msg}`,
    volumes: [],
  });
  if (!(warnMs >= 0) || !(critMs >= 0)) return unknown('--warn and --crit must be time spans');
  if (warnMs > critMs)
    return unknown(`--warn ${formatTimeSpan(warnMs)} is longer than --crit ${formatTimeSpan(critMs)}`);
  if (input.unknownVolumes && input.unknownVolumes.length > 0)
    return unknown(`no such volume: ${input.unknownVolumes.join(', ')}`);
  if (input.volumes.length === 0) return unknown('no volumes');

  const rows = input.volumes.map((v) => {
    const ageMs = v.newest === null ? null : Math.max(0, now - v.newest);
    const code = ageMs === null || ageMs > critMs ? CHECK_CRITICAL : ageMs > warnMs ? CHECK_WARNING : CHECK_OK;
    return { volume: v.volume, count: v.count, newest: v.newest, ageMs, code };
  });
  const code = Math.max(...rows.map((r) => r.code)) as 0 | 1 | 2;
  const none = rows.filter((r) => r.ageMs === null).map((r) => r.volume);
  const late = (c: number): string[] =>
    rows.filter((r) => r.ageMs !== null && r.code === c).map((r) => `${r.volume} ${formatTimeSpan(r.ageMs!)}`);
  const ages = rows.filter((r) => r.ageMs !== null).map((r) => r.ageMs!);
  const parts = [`${rows.length} volume${rows.length === 1 ? '' : 's'}`];
  if (none.length) parts.push(`no snapshot: ${none.join(', ')}`);
  if (late(CHECK_CRITICAL).length)
    parts.push(`older than ${formatTimeSpan(critMs)}: ${late(CHECK_CRITICAL).join(', ')}`);
  if (late(CHECK_WARNING).length) parts.push(`older than ${formatTimeSpan(warnMs)}: ${late(CHECK_WARNING).join(', ')}`);
  if (ages.length) parts.push(`newest snapshot age max ${formatTimeSpan(Math.max(...ages))}`);
  const w = Math.round(warnMs / 1000);
  const c = Math.round(critMs / 1000);
  // a volume without snapshots reports "U" (unknown value), as the plugin guidelines prescribe
  const perf = rows
    .map((r) => `${perfLabel(r.volume)}=${r.ageMs === null ? 'U' : `${Math.round(r.ageMs / 1000)}s`};${w};${c};0;`)
    .join(' ');
  return {
    code,
    status: STATUS[code],
    line: `SNAPSHOTS ${STATUS[code]} - ${parts.join(', ')} | ${perf}`,
    volumes: rows.map((r) => ({
      volume: r.volume,
      count: r.count,
      newest: r.newest,
      ageMs: r.ageMs,
      status: STATUS[r.code],
    })),
  };
}
