// From (what configfs holds, what stacd created, what stacd wants) to an ordered list of configfs operations.
// Pure: the same inputs give the same plan, and every refusal is decided here, before the first change, so
// that bad input leaves nvmet as it was. Ownership is the whole safety story: an object stacd did not create
// (a hand-made port, subsystem or host entry) is never changed or removed, and a port address that such an
// object already serves is refused by name.
import type { NvmetOp, NvmetState, PortState } from './configfs.js';
import { portLabel, type PortSpec, type SubsystemSpec } from './types.js';
import { BusyError, InvalidArgumentError, NotSupportedError } from '../volumes/errors.js';

export interface OwnedPort extends PortSpec {
  id: string;
}

/** what stacd created in nvmet (persisted in its state directory) */
export interface OwnedRecord {
  ports: OwnedPort[];
  subsystems: string[];
  hosts: string[];
}

export const EMPTY_OWNED: OwnedRecord = { ports: [], subsystems: [], hosts: [] };

export interface Plan {
  ops: NvmetOp[];
  /** to persist before the first operation: everything about to be created is already recorded */
  ownedBefore: OwnedRecord;
  /** to persist after the last operation */
  ownedAfter: OwnedRecord;
}

export interface PlanOptions {
  /** the kernel has hosts/<nqn>/dhchap_key */
  hostAuth: boolean;
  /** first port id to try for a new port (nvmet port ids are 16-bit) */
  firstPortId?: number;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/** Two listeners on the same service id collide when their addresses are equal or either is a wildcard. */
function overlaps(a: Pick<PortState, 'trtype' | 'traddr' | 'trsvcid'>, b: PortSpec): boolean {
  if (a.trtype !== b.trtype || a.trsvcid !== b.trsvcid) return false;
  return a.traddr === b.traddr || WILDCARD.has(a.traddr) || WILDCARD.has(b.traddr);
}

function same(a: Pick<PortState, 'trtype' | 'traddr' | 'trsvcid' | 'adrfam'>, b: PortSpec): boolean {
  return a.trtype === b.trtype && a.traddr === b.traddr && a.trsvcid === b.trsvcid && a.adrfam === b.adrfam;
}

const key = (p: PortSpec): string => `${p.trtype}|${p.adrfam}|${p.traddr}|${p.trsvcid}`;

export function planNvmet(
  current: NvmetState,
  recorded: OwnedRecord,
  desired: SubsystemSpec[],
  opts: PlanOptions,
): Plan {
  // a recorded port id that now holds another address was re-made by someone else (after a reboot): not ours
  const curPorts = new Map(current.ports.map((p) => [p.id, p]));
  const owned: OwnedRecord = {
    ...recorded,
    ports: recorded.ports.filter((o) => {
      const c = curPorts.get(o.id);
      return !c || same(c, o);
    }),
  };
  const ownedSubs = new Set(owned.subsystems);
  const ownedHosts = new Set(owned.hosts);
  const ownedPortIds = new Set(owned.ports.map((p) => p.id));
  const curSubs = new Map(current.subsystems.map((s) => [s.nqn, s]));
  const curHosts = new Map(current.hosts.map((h) => [h.nqn, h]));
  const wanted = new Map<string, SubsystemSpec>();

  // ---- refusals (nothing changed yet) --------------------------------------------------------------------
  for (const s of desired) {
    if (wanted.has(s.nqn)) throw new InvalidArgumentError(`subsystem ${s.nqn} is wanted twice`);
    wanted.set(s.nqn, s);
    if (curSubs.has(s.nqn) && !ownedSubs.has(s.nqn))
      throw new BusyError(
        `nvmet subsystem ${s.nqn} exists and stas did not create it: choose another NQN or remove it by hand`,
      );
    const nsids = new Set<number>();
    for (const n of s.namespaces) {
      if (nsids.has(n.nsid)) throw new InvalidArgumentError(`subsystem ${s.nqn}: namespace id ${n.nsid} is used twice`);
      nsids.add(n.nsid);
    }
  }
  const hostKeys = new Map<string, string | undefined>();
  for (const s of desired)
    for (const h of s.hosts) {
      if (h.dhchapKey !== undefined && !opts.hostAuth)
        throw new NotSupportedError(
          `host ${h.nqn}: a DH-HMAC-CHAP key was given, but this kernel's nvmet has no target authentication (no hosts/<nqn>/dhchap_key in configfs; it needs CONFIG_NVME_TARGET_AUTH)`,
        );
      if (hostKeys.has(h.nqn) && hostKeys.get(h.nqn) !== h.dhchapKey)
        throw new InvalidArgumentError(
          `host ${h.nqn}: nvmet keeps one DH-HMAC-CHAP key per host NQN, and two access paths give it different keys`,
        );
      hostKeys.set(h.nqn, h.dhchapKey);
      const cur = curHosts.get(h.nqn);
      if (cur && !ownedHosts.has(h.nqn) && h.dhchapKey !== undefined && cur.dhchapKey !== h.dhchapKey)
        throw new BusyError(
          `host ${h.nqn}: its nvmet host entry was made outside stas with another DH-HMAC-CHAP key; stas does not change it`,
        );
    }

  // ports: desired address → existing owned port (reused) or a new one
  const desiredPorts = new Map<string, PortSpec>();
  for (const s of desired) for (const p of s.ports) desiredPorts.set(key(p), p);
  const portIdOf = new Map<string, string>();
  const usedIds = new Set(current.ports.map((p) => p.id));
  for (const p of owned.ports) usedIds.add(p.id);
  let nextId = opts.firstPortId ?? 1000;
  const newPorts: OwnedPort[] = [];
  for (const [k, p] of desiredPorts) {
    for (const c of current.ports) {
      if (ownedPortIds.has(c.id) || !overlaps(c, p)) continue;
      const subs = c.subsystems.length > 0 ? ` serving ${c.subsystems.join(', ')}` : '';
      throw new BusyError(
        `port ${portLabel(p)} is already used by nvmet port ${c.id} (${portLabel(c as PortSpec)})${subs}, which stas did not create`,
      );
    }
    for (const [k2, p2] of desiredPorts)
      if (k2 !== k && overlaps(p2, p) && p2.adrfam === p.adrfam)
        throw new InvalidArgumentError(
          `ports ${portLabel(p)} and ${portLabel(p2)} overlap (a wildcard address takes the service id on every address)`,
        );
    const mine = owned.ports.find((o) => same(o, p));
    if (mine) {
      portIdOf.set(k, mine.id);
      continue;
    }
    while (usedIds.has(String(nextId))) nextId++;
    if (nextId > 65535) throw new BusyError('no free nvmet port id');
    const id = String(nextId++);
    usedIds.add(id);
    portIdOf.set(k, id);
    newPorts.push({ ...p, id });
  }

  // ---- removals: only what stacd owns ----------------------------------------------------------------------
  const ops: NvmetOp[] = [];
  const linksAfter = new Map<string, Set<string>>(current.ports.map((p) => [p.id, new Set(p.subsystems)]));
  for (const op of owned.ports) {
    const c = curPorts.get(op.id);
    if (!c) continue;
    const wantHere = new Set(
      desired.filter((s) => s.ports.some((p) => portIdOf.get(key(p)) === op.id)).map((s) => s.nqn),
    );
    for (const nqn of c.subsystems)
      if (ownedSubs.has(nqn) && !wantHere.has(nqn)) {
        ops.push({ op: 'unlink', path: `ports/${op.id}/subsystems/${nqn}` });
        linksAfter.get(op.id)?.delete(nqn);
      }
  }
  const allowedAfter = new Map<string, Set<string>>(current.subsystems.map((s) => [s.nqn, new Set(s.hosts)]));
  for (const nqn of owned.subsystems) {
    const c = curSubs.get(nqn);
    if (!c) continue;
    const w = wanted.get(nqn);
    const keepNs = new Set(w?.namespaces.map((n) => n.nsid) ?? []);
    for (const n of c.namespaces)
      if (!keepNs.has(n.nsid)) ops.push({ op: 'rmdir', path: `subsystems/${nqn}/namespaces/${n.nsid}` });
    const keepHosts = new Set(w?.hosts.map((h) => h.nqn) ?? []);
    for (const h of c.hosts)
      if (!keepHosts.has(h)) {
        ops.push({ op: 'unlink', path: `subsystems/${nqn}/allowed_hosts/${h}` });
        allowedAfter.get(nqn)?.delete(h);
      }
    if (!w) {
      ops.push({ op: 'rmdir', path: `subsystems/${nqn}` });
      allowedAfter.delete(nqn);
    }
  }
  for (const s of desired) allowedAfter.set(s.nqn, new Set(s.hosts.map((h) => h.nqn)));
  const referenced = new Set<string>();
  for (const hs of allowedAfter.values()) for (const h of hs) referenced.add(h);
  const removedHosts = new Set<string>();
  for (const h of owned.hosts)
    if (curHosts.has(h) && !referenced.has(h)) {
      ops.push({ op: 'rmdir', path: `hosts/${h}` });
      removedHosts.add(h);
    }
  const wantedIds = new Set(portIdOf.values());
  const removedPorts = new Set<string>();
  for (const op of owned.ports)
    if (curPorts.has(op.id) && !wantedIds.has(op.id) && (linksAfter.get(op.id)?.size ?? 0) === 0) {
      ops.push({ op: 'rmdir', path: `ports/${op.id}` });
      removedPorts.add(op.id);
    }

  // ---- creations -----------------------------------------------------------------------------------------
  for (const [k, p] of desiredPorts) {
    const id = portIdOf.get(k)!;
    if (curPorts.has(id)) continue;
    ops.push({ op: 'mkdir', path: `ports/${id}` });
    ops.push({ op: 'write', path: `ports/${id}/addr_trtype`, value: p.trtype });
    ops.push({ op: 'write', path: `ports/${id}/addr_adrfam`, value: p.adrfam });
    ops.push({ op: 'write', path: `ports/${id}/addr_traddr`, value: p.traddr });
    ops.push({ op: 'write', path: `ports/${id}/addr_trsvcid`, value: p.trsvcid });
  }
  const newHosts: string[] = [];
  for (const [nqn, dhchapKey] of hostKeys) {
    const cur = curHosts.get(nqn);
    if (!cur) {
      ops.push({ op: 'mkdir', path: `hosts/${nqn}` });
      if (!ownedHosts.has(nqn)) newHosts.push(nqn);
    }
    if (dhchapKey !== undefined && cur?.dhchapKey !== dhchapKey)
      ops.push({ op: 'write', path: `hosts/${nqn}/dhchap_key`, value: dhchapKey, secret: true });
  }
  const newSubs: string[] = [];
  for (const s of desired) {
    const cur = curSubs.get(s.nqn);
    const base = `subsystems/${s.nqn}`;
    if (!cur) {
      if (!ownedSubs.has(s.nqn)) newSubs.push(s.nqn);
      ops.push({ op: 'mkdir', path: base });
      // serial and model are fixed once a host has identified the controller: written at creation only
      ops.push({ op: 'write', path: `${base}/attr_serial`, value: s.serial });
      ops.push({ op: 'write', path: `${base}/attr_model`, value: s.model });
    }
    if (!cur || cur.allowAnyHost) ops.push({ op: 'write', path: `${base}/attr_allow_any_host`, value: '0' });
    const curNs = new Map((cur?.namespaces ?? []).map((n) => [n.nsid, n]));
    for (const n of s.namespaces) {
      const p = `${base}/namespaces/${n.nsid}`;
      const c = curNs.get(n.nsid);
      const fits =
        c &&
        c.devicePath === n.devicePath &&
        c.nguid === n.nguid &&
        c.uuid === n.uuid &&
        c.bufferedIo === (n.bufferedIo === true);
      if (fits && c.enabled) continue;
      if (!c) ops.push({ op: 'mkdir', path: p });
      else if (c.enabled) ops.push({ op: 'write', path: `${p}/enable`, value: '0' });
      if (!fits) {
        ops.push({ op: 'write', path: `${p}/device_path`, value: n.devicePath });
        ops.push({ op: 'write', path: `${p}/device_nguid`, value: n.nguid });
        ops.push({ op: 'write', path: `${p}/device_uuid`, value: n.uuid });
        ops.push({ op: 'write', path: `${p}/buffered_io`, value: n.bufferedIo ? '1' : '0' });
      }
      ops.push({ op: 'write', path: `${p}/enable`, value: '1' });
    }
    const curAllowed = new Set(cur?.hosts ?? []);
    for (const h of s.hosts)
      if (!curAllowed.has(h.nqn))
        ops.push({ op: 'link', path: `${base}/allowed_hosts/${h.nqn}`, target: `hosts/${h.nqn}` });
  }
  // ports last: a host that connects as soon as the port listens finds the namespaces and its access in place
  for (const s of desired)
    for (const p of s.ports) {
      const id = portIdOf.get(key(p))!;
      if (!curPorts.get(id)?.subsystems.includes(s.nqn))
        ops.push({ op: 'link', path: `ports/${id}/subsystems/${s.nqn}`, target: `subsystems/${s.nqn}` });
    }

  const ownedBefore: OwnedRecord = {
    ports: [...owned.ports, ...newPorts],
    subsystems: [...owned.subsystems, ...newSubs],
    hosts: [...owned.hosts, ...newHosts],
  };
  // an owned object that is gone from configfs (reboot, removed by hand) and not wanted is forgotten
  const ownedAfter: OwnedRecord = {
    ports: ownedBefore.ports.filter((p) => !removedPorts.has(p.id) && (curPorts.has(p.id) || wantedIds.has(p.id))),
    subsystems: ownedBefore.subsystems.filter((n) => wanted.has(n)),
    hosts: ownedBefore.hosts.filter((h) => !removedHosts.has(h) && (curHosts.has(h) || hostKeys.has(h))),
  };
  return { ops, ownedBefore, ownedAfter };
}
