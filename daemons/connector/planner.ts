// The reconcile plan (§5.3-5.5): desired I/O controllers × what exists (stacd's own table and, for the kernel
// driver, the kernel's I/O controllers stacd does not track) → steps connect / keep / disconnect / adopt, each with
// the reason a user can read in `stacctl plan`. Pure: no I/O, no timers, no logging; the executor carries it out.
//
// Deliberate deviations from nvme-stas (documented in the report and in `stacctl plan`):
//  - while stafd has not answered (absent, restarting, timing out), IOCs learned from discovery log pages are
//    kept, never disconnected (nvme-stas treats "no answer" as "no entries", its PR #510);
//  - a connection stas adopted because it already existed (made by `nvme connect`, or another tool) is left
//    connected under only-stas-connections when it is no longer wanted: stas did not make it.
import type { TID } from '../common/tid.js';
import type { DisconnectScope } from '../config/options.js';
import { canonicalIp, connectionMatches, type DeviceConnection, type InterfaceInfo } from '../nvme/kernel/match.js';
import type { Dlpe } from '../controllers/dlpe.js';

/** Why stacd wants an IOC. */
export type DesiredOrigin = 'configured' | 'discovered';

export interface DesiredIoc {
  tid: TID;
  origin: DesiredOrigin;
  /** the discovery log entry it was learned from (discovered only) */
  dlpe?: Dlpe;
  /** DLPE eflags NCC bit ("not connected to CDC") */
  ncc: boolean;
  /** printable TID of the DC whose log page listed it (discovered only) */
  via?: string;
}

/** Whether the discovery-log-derived part of the desired state is known. */
export type DiscoveryKnowledge = 'answered' | 'unknown';

export interface DesiredState {
  iocs: ReadonlyMap<string, DesiredIoc>;
  discovery: DiscoveryKnowledge;
  /** controllers that would have been wanted but were dropped, by TID key → reason (exclude=, ip-family, invalid) */
  dropped: ReadonlyMap<string, string>;
}

export type TrackedState = 'connected' | 'connecting' | 'retrying' | 'gave-up' | 'idle';

/** An IOC in stacd's table. */
export interface TrackedIoc {
  tid: TID;
  /** why it was wanted when it entered the table (cache-restored entries keep the origin they had) */
  origin: DesiredOrigin;
  /** stas created the connection (false: adopted an existing one it did not make) */
  madeByStas: boolean;
  state: TrackedState;
  attempts: number;
  /** kernel device name or `nvme?` */
  device: string;
  /** NCC bit of the DLPE it currently holds */
  ncc: boolean;
}

/** A kernel I/O controller stacd does not track (kernel driver only). */
export interface ForeignIoc {
  device: string;
  conn: DeviceConnection;
}

export interface PlanInput {
  desired: DesiredState;
  tracked: ReadonlyMap<string, TrackedIoc>;
  foreign: readonly ForeignIoc[];
  scope: DisconnectScope;
  disconnectTrtypes: readonly string[];
  connectAttemptsOnNcc: number;
  /** interface knowledge for host-traddr/host-iface matching (kernel ≥ 6.1 src_addr rules) */
  interfaces: InterfaceInfo;
}

export type StepKind = 'connect' | 'keep' | 'disconnect' | 'adopt';

export interface PlanStep {
  kind: StepKind;
  /** TID key (tracked/desired) or `device:<name>` for a foreign controller */
  key: string;
  /** the identity: the TID, or for a foreign controller the kernel's view of it */
  tid: TID | undefined;
  conn?: DeviceConnection;
  device: string;
  reason: string;
  /** drop from stacd's table without touching the connection (keep) */
  untrack?: boolean;
  /** reset the attempt counter before connecting (NCC cleared) */
  resetAttempts?: boolean;
  /** whether stacd tracks it after the step */
  tracked: boolean;
  origin?: DesiredOrigin;
  /** a kernel controller stas did not make */
  foreign?: boolean;
}

export interface ReconcilePlan {
  scope: DisconnectScope;
  disconnectTrtypes: readonly string[];
  discovery: DiscoveryKnowledge;
  steps: PlanStep[];
}

/**
 * §5.5: after a failed attempt, whether to retry. Retrying stops only when the DLPE has NCC set and
 * connect-attempts-on-ncc is non-zero and the attempts reached it (1 counts as 2; a negative value stops after the
 * first failure, nvme-stas's quirk).
 */
export function shouldRetry(attempts: number, ncc: boolean, connectAttemptsOnNcc: number): boolean {
  if (!ncc || connectAttemptsOnNcc === 0) return true;
  const limit = connectAttemptsOnNcc < 0 ? 1 : Math.max(connectAttemptsOnNcc, 2);
  return attempts < limit;
}

/** Whether removing a stas-made IOC of this transport disconnects it (§5.3 step 4). */
export function disconnectsOnRemoval(scope: DisconnectScope, trtypes: readonly string[], transport: string): boolean {
  if (scope === 'no-disconnect') return false;
  if (scope === 'all-connections-matching-disconnect-trtypes') return trtypes.includes(transport);
  return true;
}

function why(d: DesiredIoc): string {
  return d.origin === 'configured'
    ? 'configured (controller=)'
    : `in the discovery log of ${d.via ?? 'a discovery controller'}`;
}

/** Index key for matching: tcp/rdma by canonical IP, others case-insensitively. */
function endpointKey(transport: string, traddr: string, trsvcid: string): string {
  const addr = transport === 'tcp' || transport === 'rdma' ? (canonicalIp(traddr) ?? traddr) : traddr.toLowerCase();
  return `${transport}|${addr}|${trsvcid}`;
}

function tidConn(t: TID): DeviceConnection {
  return {
    transport: t.transport,
    traddr: t.traddr,
    trsvcid: t.trsvcid,
    subsysnqn: t.subsysnqn,
    hostTraddr: t.hostTraddr,
    hostIface: t.hostIface,
    hostNqn: t.hostNqn,
    srcAddr: '',
  };
}

export function planReconcile(input: PlanInput): ReconcilePlan {
  const { desired, tracked, scope, disconnectTrtypes: trtypes } = input;
  const steps: PlanStep[] = [];

  // foreign kernel controllers by endpoint; each can be claimed once
  const byEndpoint = new Map<string, ForeignIoc[]>();
  for (const f of input.foreign) {
    const k = endpointKey(f.conn.transport, f.conn.traddr, f.conn.trsvcid);
    const list = byEndpoint.get(k);
    if (list) list.push(f);
    else byEndpoint.set(k, [f]);
  }
  const claimed = new Set<string>();
  const findForeign = (t: TID): ForeignIoc | undefined => {
    const list = byEndpoint.get(endpointKey(t.transport, t.traddr, t.trsvcid));
    if (!list) return undefined;
    const c = tidConn(t);
    return list.find((f) => !claimed.has(f.device) && connectionMatches(c, f.conn, input.interfaces));
  };

  for (const [key, d] of desired.iocs) {
    const t = tracked.get(key);
    const base = { key, tid: d.tid, origin: d.origin, tracked: true };
    if (t) {
      if (t.state === 'connected') {
        steps.push({ ...base, kind: 'keep', device: t.device, reason: `connected as ${t.device}; ${why(d)}` });
      } else if (t.state === 'gave-up' && t.ncc && !d.ncc) {
        steps.push({
          ...base,
          kind: 'connect',
          device: t.device,
          resetAttempts: true,
          reason: `NCC cleared by the new discovery log entry: attempts reset, connecting now; ${why(d)}`,
        });
      } else if (
        t.state === 'gave-up' ||
        (t.state === 'idle' && !shouldRetry(t.attempts, d.ncc, input.connectAttemptsOnNcc))
      ) {
        steps.push({
          ...base,
          kind: 'keep',
          device: t.device,
          reason: `not retrying: NCC set and ${t.attempts} failed attempt(s) (connect-attempts-on-ncc=${input.connectAttemptsOnNcc}); ${why(d)}`,
        });
      } else if (t.state === 'idle') {
        steps.push({ ...base, kind: 'connect', device: t.device, reason: `not connected; ${why(d)}` });
      } else {
        steps.push({
          ...base,
          kind: 'keep',
          device: t.device,
          reason: `${t.state} (attempt ${t.attempts + 1}); ${why(d)}`,
        });
      }
      continue;
    }
    const f = findForeign(d.tid);
    if (f) {
      claimed.add(f.device);
      steps.push({
        ...base,
        kind: 'adopt',
        device: f.device,
        conn: f.conn,
        reason: `already connected as ${f.device} (not made by this stacd): adopted, not duplicated; ${why(d)}`,
      });
    } else {
      steps.push({ ...base, kind: 'connect', device: 'nvme?', reason: `not connected; ${why(d)}` });
    }
  }

  for (const [key, t] of tracked) {
    if (desired.iocs.has(key)) continue;
    const base = { key, tid: t.tid, device: t.device, origin: t.origin };
    if (t.origin === 'discovered' && desired.discovery === 'unknown') {
      const silent =
        'stafd has not answered: keeping what its discovery log pages last said (stas never disconnects because stafd is unreachable)';
      if (t.state === 'idle')
        steps.push({
          ...base,
          kind: 'connect',
          tracked: true,
          reason: `restored from the cache, not connected; ${silent}`,
        });
      else steps.push({ ...base, kind: 'keep', tracked: true, reason: silent });
      continue;
    }
    const gone =
      desired.dropped.get(key) ??
      (t.origin === 'configured' ? 'no longer configured' : 'no longer in any discovery log page');
    if (!t.madeByStas && scope === 'only-stas-connections') {
      steps.push({
        ...base,
        kind: 'keep',
        tracked: false,
        untrack: true,
        reason: `${gone}; not made by stas (adopted), so disconnect-scope=only-stas-connections leaves it connected`,
      });
    } else if (!disconnectsOnRemoval(scope, trtypes, t.tid.transport)) {
      const because =
        scope === 'no-disconnect'
          ? 'disconnect-scope=no-disconnect'
          : `transport ${t.tid.transport} is not in disconnect-trtypes (${trtypes.join('+') || 'none'})`;
      steps.push({
        ...base,
        kind: 'keep',
        tracked: false,
        untrack: true,
        reason: `${gone}; ${because}: left connected, no longer tracked`,
      });
    } else {
      const state = t.state === 'connected' ? '' : ` (${t.state}: stop trying)`;
      steps.push({ ...base, kind: 'disconnect', tracked: false, reason: `${gone}${state}; disconnect-scope=${scope}` });
    }
  }

  for (const f of input.foreign) {
    if (claimed.has(f.device)) continue;
    const base = {
      key: `device:${f.device}`,
      tid: undefined,
      conn: f.conn,
      device: f.device,
      tracked: false,
      foreign: true,
    };
    if (scope === 'all-connections-matching-disconnect-trtypes' && trtypes.includes(f.conn.transport)) {
      steps.push({
        ...base,
        kind: 'disconnect',
        reason: `not justified by controller= lines or discovery log pages; disconnect-scope=${scope} and ${f.conn.transport} is in disconnect-trtypes`,
      });
    } else {
      const because =
        scope === 'all-connections-matching-disconnect-trtypes'
          ? `transport ${f.conn.transport} is not in disconnect-trtypes`
          : `disconnect-scope=${scope}`;
      steps.push({ ...base, kind: 'keep', reason: `not made by stas and not wanted; ${because} leaves it alone` });
    }
  }
  return { scope, disconnectTrtypes: trtypes, discovery: desired.discovery, steps };
}

/** Counts per step kind (logs, bench). */
export function planSummary(plan: ReconcilePlan): Record<StepKind, number> {
  const c: Record<StepKind, number> = { connect: 0, keep: 0, disconnect: 0, adopt: 0 };
  for (const s of plan.steps) c[s.kind]++;
  return c;
}
