// The reconcile planner, scenario by scenario: every disconnect-scope × origin × state, NCC, adoption of kernel
// controllers (nvme-stas §4.8 matching incl. src_addr), and stafd's silence.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TID, type TidContext } from '../../daemons/common/tid.js';
import type { DisconnectScope } from '../../daemons/config/options.js';
import type { DeviceConnection, InterfaceInfo } from '../../daemons/nvme/kernel/match.js';
import {
  planReconcile,
  shouldRetry,
  disconnectsOnRemoval,
  planSummary,
  type DesiredIoc,
  type ForeignIoc,
  type TrackedIoc,
  type PlanInput,
  type StepKind,
} from '../../daemons/connector/planner.js';
import { nccOf } from '../../daemons/controllers/dlpe.js';

const HOST = 'nqn.2014-08.org.nvmexpress:uuid:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
const ctx: TidContext = { ignoreIface: false, hostNqn: HOST };
const noIfs: InterfaceInfo = {
  ifaceOfAddress: (a) => (a === '192.168.1.5' ? 'eth0' : undefined),
  primaryAddressOf: (i) => (i === 'eth0' ? '192.168.1.5' : undefined),
};

function tid(n: number, extra: [string, string][] = [], transport = 'tcp'): TID {
  return TID.fromCid(
    [
      ['transport', transport],
      ['traddr', `10.0.0.${n}`],
      ['trsvcid', '4420'],
      ['subsysnqn', `nqn.2024-01.test:s${n}`],
      ...extra,
    ],
    ctx,
  );
}
function desired(t: TID, origin: 'configured' | 'discovered' = 'discovered', ncc = false): DesiredIoc {
  return { tid: t, origin, ncc, via: '(tcp, 10.0.0.100, 8009)' };
}
function tracked(t: TID, over: Partial<TrackedIoc> = {}): TrackedIoc {
  return {
    tid: t,
    origin: 'discovered',
    madeByStas: true,
    state: 'connected',
    attempts: 0,
    device: 'nvme1',
    ncc: false,
    ...over,
  };
}
function conn(t: TID, over: Partial<DeviceConnection> = {}): DeviceConnection {
  return {
    transport: t.transport,
    traddr: t.traddr,
    trsvcid: t.trsvcid,
    subsysnqn: t.subsysnqn,
    hostTraddr: '',
    hostIface: '',
    hostNqn: t.hostNqn,
    srcAddr: '',
    ...over,
  };
}
function input(o: {
  desired?: DesiredIoc[];
  tracked?: TrackedIoc[];
  foreign?: ForeignIoc[];
  scope?: DisconnectScope;
  trtypes?: string[];
  unknown?: boolean;
  ncc?: number;
  dropped?: [TID, string][];
}): PlanInput {
  return {
    desired: {
      iocs: new Map((o.desired ?? []).map((d) => [d.tid.key(), d])),
      discovery: o.unknown ? 'unknown' : 'answered',
      dropped: new Map((o.dropped ?? []).map(([t, r]) => [t.key(), r])),
    },
    tracked: new Map((o.tracked ?? []).map((t) => [t.tid.key(), t])),
    foreign: o.foreign ?? [],
    scope: o.scope ?? 'only-stas-connections',
    disconnectTrtypes: o.trtypes ?? ['tcp'],
    connectAttemptsOnNcc: o.ncc ?? 0,
    interfaces: noIfs,
  };
}
function kinds(i: PlanInput): string[] {
  return planReconcile(i).steps.map((s) => `${s.kind}:${s.device}${s.untrack ? ':untrack' : ''}`);
}

describe('planner: wanted controllers', () => {
  const a = tid(1);
  const cases: { name: string; in: PlanInput; want: string[]; reason?: RegExp }[] = [
    {
      name: 'new wanted → connect',
      in: input({ desired: [desired(a)] }),
      want: ['connect:nvme?'],
      reason: /not connected; in the discovery log of/,
    },
    {
      name: 'configured → connect with reason',
      in: input({ desired: [desired(a, 'configured')] }),
      want: ['connect:nvme?'],
      reason: /configured \(controller=\)/,
    },
    {
      name: 'tracked connected → keep',
      in: input({ desired: [desired(a)], tracked: [tracked(a)] }),
      want: ['keep:nvme1'],
      reason: /connected as nvme1/,
    },
    {
      name: 'tracked retrying → keep (its own timer retries)',
      in: input({ desired: [desired(a)], tracked: [tracked(a, { state: 'retrying', attempts: 2, device: 'nvme?' })] }),
      want: ['keep:nvme?'],
      reason: /retrying \(attempt 3\)/,
    },
    {
      name: 'tracked idle → connect',
      in: input({ desired: [desired(a)], tracked: [tracked(a, { state: 'idle', device: 'nvme?' })] }),
      want: ['connect:nvme?'],
    },
    {
      name: 'gave up, NCC still set → keep',
      in: input({
        desired: [desired(a, 'discovered', true)],
        tracked: [tracked(a, { state: 'gave-up', ncc: true, attempts: 2, device: 'nvme?' })],
        ncc: 2,
      }),
      want: ['keep:nvme?'],
      reason: /not retrying: NCC set and 2/,
    },
    {
      name: 'gave up, NCC cleared → connect, attempts reset',
      in: input({
        desired: [desired(a, 'discovered', false)],
        tracked: [tracked(a, { state: 'gave-up', ncc: true, attempts: 2, device: 'nvme?' })],
        ncc: 2,
      }),
      want: ['connect:nvme?'],
      reason: /NCC cleared/,
    },
    {
      name: 'existing kernel controller → adopt',
      in: input({ desired: [desired(a)], foreign: [{ device: 'nvme7', conn: conn(a) }] }),
      want: ['adopt:nvme7'],
      reason: /adopted, not duplicated/,
    },
    {
      name: 'kernel controller of another subsystem → connect, and the other is left alone',
      in: input({ desired: [desired(a)], foreign: [{ device: 'nvme7', conn: conn(a, { subsysnqn: 'nqn.other' }) }] }),
      want: ['connect:nvme?', 'keep:nvme7'],
    },
    {
      name: 'IPv4-mapped kernel traddr still matches',
      in: input({
        desired: [desired(a)],
        foreign: [{ device: 'nvme7', conn: conn(a, { traddr: '::ffff:10.0.0.1' }) }],
      }),
      want: ['adopt:nvme7'],
    },
    {
      name: 'other host NQN → not adopted',
      in: input({
        desired: [desired(a)],
        foreign: [{ device: 'nvme7', conn: conn(a, { hostNqn: 'nqn.other-host' }) }],
      }),
      want: ['connect:nvme?', 'keep:nvme7'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(kinds(c.in), c.want);
      if (c.reason) assert.match(planReconcile(c.in).steps[0]!.reason, c.reason);
    });
  }

  it('src_addr rules: host-traddr must equal the kernel src_addr', () => {
    const b = tid(2, [['host-traddr', '192.168.1.5']]);
    assert.deepEqual(
      kinds(
        input({
          desired: [desired(b)],
          foreign: [{ device: 'nvme3', conn: conn(b, { hostTraddr: '', srcAddr: '192.168.1.5' }) }],
        }),
      ),
      ['adopt:nvme3'],
    );
    assert.deepEqual(
      kinds(
        input({
          desired: [desired(b)],
          foreign: [{ device: 'nvme3', conn: conn(b, { hostTraddr: '', srcAddr: '192.168.1.6' }) }],
        }),
      ),
      ['connect:nvme?', 'keep:nvme3'],
    );
    const c = tid(3, [['host-iface', 'eth0']]);
    assert.deepEqual(
      kinds(
        input({
          desired: [desired(c)],
          foreign: [{ device: 'nvme4', conn: conn(c, { hostIface: '', srcAddr: '192.168.1.5' }) }],
        }),
      ),
      ['adopt:nvme4'],
    );
    assert.deepEqual(
      kinds(
        input({
          desired: [desired(c)],
          foreign: [{ device: 'nvme4', conn: conn(c, { hostIface: '', srcAddr: '10.9.9.9' }) }],
        }),
      ),
      ['connect:nvme?', 'keep:nvme4'],
    );
  });

  it('one kernel controller is adopted once, the second wanted path connects', () => {
    const a1 = tid(1);
    const a2 = tid(1, [['host-traddr', '192.168.1.5']]);
    const plan = planReconcile(
      input({
        desired: [desired(a1), desired(a2)],
        foreign: [{ device: 'nvme7', conn: conn(a1, { srcAddr: '192.168.1.5' }) }],
      }),
    );
    assert.deepEqual(plan.steps.map((s) => s.kind).sort(), ['adopt', 'connect']);
  });
});

describe('planner: controllers no longer wanted, per disconnect-scope', () => {
  const a = tid(1);
  const rdma = tid(5, [], 'rdma');
  type Row = [scope: DisconnectScope, trtypes: string[], t: TrackedIoc, unknown: boolean, want: string];
  const rows: Row[] = [
    ['only-stas-connections', ['tcp'], tracked(a), false, 'disconnect:nvme1'],
    ['only-stas-connections', ['tcp'], tracked(a, { origin: 'configured' }), false, 'disconnect:nvme1'],
    ['only-stas-connections', ['tcp'], tracked(a), true, 'keep:nvme1'],
    ['only-stas-connections', ['tcp'], tracked(a, { origin: 'configured' }), true, 'disconnect:nvme1'],
    ['only-stas-connections', ['tcp'], tracked(a, { state: 'idle' }), true, 'connect:nvme1'],
    ['only-stas-connections', ['tcp'], tracked(a, { madeByStas: false }), false, 'keep:nvme1:untrack'],
    ['only-stas-connections', ['tcp'], tracked(a, { state: 'retrying', device: 'nvme?' }), false, 'disconnect:nvme?'],
    ['no-disconnect', ['tcp'], tracked(a), false, 'keep:nvme1:untrack'],
    ['no-disconnect', ['tcp'], tracked(a, { madeByStas: false }), false, 'keep:nvme1:untrack'],
    ['no-disconnect', ['tcp'], tracked(a), true, 'keep:nvme1'],
    ['all-connections-matching-disconnect-trtypes', ['tcp'], tracked(a), false, 'disconnect:nvme1'],
    [
      'all-connections-matching-disconnect-trtypes',
      ['tcp'],
      tracked(a, { madeByStas: false }),
      false,
      'disconnect:nvme1',
    ],
    ['all-connections-matching-disconnect-trtypes', ['rdma'], tracked(a), false, 'keep:nvme1:untrack'],
    ['all-connections-matching-disconnect-trtypes', ['tcp', 'rdma'], tracked(rdma), false, 'disconnect:nvme1'],
    ['all-connections-matching-disconnect-trtypes', ['tcp'], tracked(rdma), false, 'keep:nvme1:untrack'],
    ['all-connections-matching-disconnect-trtypes', ['tcp'], tracked(a), true, 'keep:nvme1'],
  ];
  for (const [scope, trtypes, t, unknown, want] of rows) {
    it(`${scope} [${trtypes}] ${t.tid.transport} ${t.origin} madeByStas=${t.madeByStas} ${t.state}${unknown ? ' stafd silent' : ''} → ${want}`, () => {
      const plan = planReconcile(input({ tracked: [t], scope, trtypes, unknown }));
      assert.deepEqual(
        plan.steps.map((s) => `${s.kind}:${s.device}${s.untrack ? ':untrack' : ''}`),
        [want],
      );
      assert.ok(plan.steps[0]!.reason.length > 10);
      if (unknown && t.origin === 'discovered') assert.match(plan.steps[0]!.reason, /stafd has not answered/);
    });
  }

  it('the drop reason (exclude=) is in the step', () => {
    const plan = planReconcile(input({ tracked: [tracked(a)], dropped: [[a, 'excluded by an exclude= line']] }));
    assert.equal(plan.steps[0]!.kind, 'disconnect');
    assert.match(plan.steps[0]!.reason, /^excluded by an exclude= line; disconnect-scope=only-stas-connections/);
  });
});

describe('planner: kernel controllers stas does not track', () => {
  const a = tid(1);
  const f: ForeignIoc = { device: 'nvme9', conn: conn(a) };
  const fr: ForeignIoc = { device: 'nvme8', conn: conn(tid(2), { transport: 'rdma' }) };
  const rows: [DisconnectScope, string[], string[]][] = [
    ['only-stas-connections', ['tcp'], ['keep:nvme9', 'keep:nvme8']],
    ['no-disconnect', ['tcp'], ['keep:nvme9', 'keep:nvme8']],
    ['all-connections-matching-disconnect-trtypes', ['tcp'], ['disconnect:nvme9', 'keep:nvme8']],
    ['all-connections-matching-disconnect-trtypes', ['tcp', 'rdma'], ['disconnect:nvme9', 'disconnect:nvme8']],
    ['all-connections-matching-disconnect-trtypes', [], ['keep:nvme9', 'keep:nvme8']],
  ];
  for (const [scope, trtypes, want] of rows) {
    it(`${scope} [${trtypes}] → ${want.join(' ')}`, () => {
      const plan = planReconcile(input({ foreign: [f, fr], scope, trtypes }));
      assert.deepEqual(
        plan.steps.map((s) => `${s.kind}:${s.device}`),
        want,
      );
      for (const s of plan.steps) {
        assert.equal(s.foreign, true);
        assert.equal(s.tracked, false);
      }
    });
  }
  it('a wanted controller adopts the kernel one even in audit mode', () => {
    const plan = planReconcile(
      input({ desired: [desired(a)], foreign: [f], scope: 'all-connections-matching-disconnect-trtypes' }),
    );
    assert.deepEqual(
      plan.steps.map((s) => `${s.kind}:${s.device}`),
      ['adopt:nvme9'],
    );
  });
});

describe('connect retry rules (§5.5) and helpers', () => {
  const rows: [attempts: number, ncc: boolean, setting: number, retry: boolean][] = [
    [1, false, 2, true],
    [100, false, 2, true],
    [100, true, 0, true],
    [1, true, 2, true],
    [2, true, 2, false],
    [1, true, 1, true], // 1 counts as 2
    [2, true, 1, false],
    [1, true, -1, false], // negative: stop after the first failure
    [2, true, 3, true],
    [3, true, 3, false],
  ];
  for (const [attempts, ncc, setting, retry] of rows) {
    it(`attempts=${attempts} ncc=${ncc} connect-attempts-on-ncc=${setting} → ${retry ? 'retry' : 'stop'}`, () => {
      assert.equal(shouldRetry(attempts, ncc, setting), retry);
    });
  }
  it('NCC is eflags bit 2', () => {
    assert.equal(nccOf({ eflags: '4' }), true);
    assert.equal(nccOf({ eflags: '6' }), true);
    assert.equal(nccOf({ eflags: '3' }), false);
    assert.equal(nccOf({ eflags: 'garbage' }), false);
    assert.equal(nccOf(undefined), false);
  });
  it('disconnectsOnRemoval', () => {
    assert.equal(disconnectsOnRemoval('only-stas-connections', [], 'fc'), true);
    assert.equal(disconnectsOnRemoval('no-disconnect', ['tcp'], 'tcp'), false);
    assert.equal(disconnectsOnRemoval('all-connections-matching-disconnect-trtypes', ['tcp'], 'fc'), false);
  });
  it('summary counts every kind', () => {
    const a = tid(1);
    const b = tid(2);
    const c = tid(3);
    const plan = planReconcile(
      input({
        desired: [desired(a), desired(b)],
        tracked: [tracked(a), tracked(c, { device: 'nvme3' })],
        foreign: [{ device: 'nvme9', conn: conn(b) }],
      }),
    );
    const want: Record<StepKind, number> = { connect: 0, keep: 1, disconnect: 1, adopt: 1 };
    assert.deepEqual(planSummary(plan), want);
  });
});
