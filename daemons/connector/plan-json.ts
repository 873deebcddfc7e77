// The plan as `stacd` serves it on org.nvmexpress.stac.Connector1.Plan and `stacctl plan --json` prints it.
// Identity fields only: no config bag, so no secret can leak.
import type { ReconcilePlan } from './planner.js';

export interface PlanStepJson {
  action: string;
  device: string;
  transport: string;
  traddr: string;
  trsvcid: string;
  subsysnqn: string;
  'host-traddr': string;
  'host-iface': string;
  'host-nqn': string;
  origin: string;
  tracked: boolean;
  foreign: boolean;
  reason: string;
}

export interface PlanJson {
  'disconnect-scope': string;
  'disconnect-trtypes': string[];
  discovery: string;
  driver: string;
  steps: PlanStepJson[];
}

export function planToJson(plan: ReconcilePlan, driver: string): PlanJson {
  return {
    'disconnect-scope': plan.scope,
    'disconnect-trtypes': [...plan.disconnectTrtypes],
    discovery: plan.discovery,
    driver,
    steps: plan.steps.map((s) => {
      const t = s.tid;
      const c = s.conn;
      return {
        action: s.kind,
        device: s.device,
        transport: t?.transport ?? c?.transport ?? '',
        traddr: t?.traddr ?? c?.traddr ?? '',
        trsvcid: t?.trsvcid ?? c?.trsvcid ?? '',
        subsysnqn: t?.subsysnqn ?? c?.subsysnqn ?? '',
        'host-traddr': t?.hostTraddr ?? c?.hostTraddr ?? '',
        'host-iface': t?.hostIface ?? c?.hostIface ?? '',
        'host-nqn': t?.hostNqn ?? c?.hostNqn ?? '',
        origin: s.foreign ? 'kernel' : (s.origin ?? ''),
        tracked: s.tracked,
        foreign: s.foreign ?? false,
        reason: s.reason,
      };
    }),
  };
}
