// The desired state of stacd (§5.1-5.3): the I/O controllers it should be connected to = controller= lines of
// stacd.conf ∪ every `nvme` entry of stafd's discovery log pages (inheriting the DC's host-traddr, host-iface and
// host-nqn), minus exclude= entries, disabled IP families and invalid addresses. Pure functions; the D-Bus side
// (asking stafd) lives in stafd-follower.ts.
import { isIP } from 'node:net';
import { TID, type TidContext } from '../common/tid.js';
import { isExcluded, type ExcludeEntry } from '../common/exclude.js';
import { configuredTid, type ControllerSpec } from '../config/controllers.js';
import { nccOf, type Dlpe } from '../controllers/dlpe.js';
import type { DesiredIoc, DesiredState, DiscoveryKnowledge } from './planner.js';

/** An IOC learned from a discovery log page. */
export interface LearnedIoc {
  tid: TID;
  dlpe: Dlpe;
  /** printable TID of the DC */
  via: string;
}

export interface LogPagesParse {
  iocs: LearnedIoc[];
  /** why parts of the answer were unusable (logged once per answer) */
  problems: string[];
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

/**
 * get_all_log_pages(true) JSON → IOC TIDs (§5.1 item 2). Entries of subtype other than `nvme` are ignored; the
 * same IOC listed by several DCs with identical host-side fields collapses into one TID (the last DLPE wins).
 * Throws when the text is not the documented shape at all (so the caller keeps the previous set).
 */
export function iocsFromLogPages(json: string, ctx: TidContext): LogPagesParse {
  const doc: unknown = JSON.parse(json);
  if (!Array.isArray(doc)) throw new Error('get_all_log_pages did not return a JSON array');
  const problems: string[] = [];
  const byKey = new Map<string, LearnedIoc>();
  doc.forEach((item: unknown, i: number) => {
    const o = item as { 'discovery-controller'?: unknown; 'log-pages'?: unknown };
    const dc = o?.['discovery-controller'] as Record<string, unknown> | undefined;
    const pages = o?.['log-pages'];
    if (!dc || typeof dc !== 'object' || !Array.isArray(pages)) {
      problems.push(`get_all_log_pages element ${i}: no discovery-controller/log-pages; skipped`);
      return;
    }
    const dcTid = TID.fromCid(
      [
        ['transport', str(dc.transport)],
        ['traddr', str(dc.traddr)],
        ['trsvcid', str(dc.trsvcid)],
        ['subsysnqn', str(dc.subsysnqn)],
        ['host-traddr', str(dc['host-traddr'])],
        ['host-iface', str(dc['host-iface'])],
        ['host-nqn', str(dc['host-nqn'])],
      ],
      ctx,
    );
    for (const raw of pages) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) continue;
      const e: Dlpe = {};
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) e[k] = str(v).trim();
      if (e.subtype !== 'nvme') continue;
      if (!e.trtype || !e.traddr || !e.subnqn) {
        problems.push(`${dcTid}: log page entry without trtype/traddr/subnqn; skipped`);
        continue;
      }
      const tid = TID.fromCid(
        [
          ['transport', e.trtype],
          ['traddr', e.traddr],
          ['trsvcid', e.trsvcid ?? ''],
          ['subsysnqn', e.subnqn],
          ['host-traddr', dcTid.hostTraddr],
          ['host-iface', dcTid.hostIface],
          ['host-nqn', dcTid.hostNqn],
        ],
        ctx,
      );
      byKey.set(tid.key(), { tid, dlpe: e, via: dcTid.toString() });
    }
  });
  return { iocs: [...byKey.values()], problems };
}

export interface DesiredInput {
  controllers: readonly ControllerSpec[];
  excludes: readonly ExcludeEntry[];
  ipv4: boolean;
  ipv6: boolean;
  /** host names already resolved (traddr → address); unresolved names are dropped */
  resolved?: ReadonlyMap<string, string>;
  learned: readonly LearnedIoc[];
  discovery: DiscoveryKnowledge;
  tidContext: TidContext;
}

/** Why a TID cannot be used (invalid transport, address of a disabled family), or undefined. */
export function addressProblem(tid: TID, ipv4: boolean, ipv6: boolean): string | undefined {
  if (tid.transport === 'fc' || tid.transport === 'loop') return undefined;
  if (tid.transport !== 'tcp' && tid.transport !== 'rdma') return `invalid transport "${tid.transport}"`;
  const fam = isIP(tid.traddr);
  if (fam === 0) return `traddr "${tid.traddr}" is not an IP address`;
  if (fam === 4 && !ipv4) return `IPv4 address ${tid.traddr} excluded by ip-family`;
  if (fam === 6 && !ipv6) return `IPv6 address ${tid.traddr} excluded by ip-family`;
  return undefined;
}

export interface DesiredResult {
  state: DesiredState;
  /** configured entries that could not be used at all, with file:line and reason (log these) */
  configProblems: string[];
}

export function computeDesiredState(input: DesiredInput): DesiredResult {
  const iocs = new Map<string, DesiredIoc>();
  const dropped = new Map<string, string>();
  const configProblems: string[] = [];
  const consider = (tid: TID, make: () => DesiredIoc, where: string): void => {
    if (isExcluded(input.excludes, tid.matchDict())) {
      dropped.set(tid.key(), 'excluded by an exclude= line');
      if (where) configProblems.push(`${where} ${tid}: excluded by an exclude= line; ignored`);
      return;
    }
    const p = addressProblem(tid, input.ipv4, input.ipv6);
    if (p) {
      dropped.set(tid.key(), p);
      if (where) configProblems.push(`${where} ${tid}: ${p}; ignored`);
      return;
    }
    if (!iocs.has(tid.key())) iocs.set(tid.key(), make());
  };
  for (const spec of input.controllers) {
    const where = `${spec.ref.file}:${spec.ref.line}: controller=`;
    const r = configuredTid('stacd', spec, input.tidContext);
    if ('reason' in r) {
      configProblems.push(`${where} entry ignored: ${r.reason}`);
      continue;
    }
    let tid = r.tid;
    if ((tid.transport === 'tcp' || tid.transport === 'rdma') && isIP(tid.traddr) === 0) {
      const addr = input.resolved?.get(tid.traddr);
      if (!addr) {
        configProblems.push(`${where} ${tid}: cannot resolve traddr "${tid.traddr}"; ignored`);
        continue;
      }
      if (isExcluded(input.excludes, tid.matchDict())) {
        dropped.set(tid.key(), 'excluded by an exclude= line');
        configProblems.push(`${where} ${tid}: excluded by an exclude= line; ignored`);
        continue;
      }
      tid = TID.fromCid(
        tid.asCid().map(([k, v]) => (k === 'traddr' ? [k, addr] : [k, v])),
        input.tidContext,
      );
    }
    consider(tid, () => ({ tid, origin: 'configured', ncc: false }), where);
  }
  for (const l of input.learned) {
    const have = iocs.get(l.tid.key());
    if (have) {
      // configured and also listed by a DC: keep the controller= settings, follow the DLPE for NCC
      have.dlpe = l.dlpe;
      have.ncc = nccOf(l.dlpe);
      have.via = l.via;
      continue;
    }
    consider(l.tid, () => ({ tid: l.tid, origin: 'discovered', dlpe: l.dlpe, ncc: nccOf(l.dlpe), via: l.via }), '');
  }
  return { state: { iocs, discovery: input.discovery, dropped }, configProblems };
}
