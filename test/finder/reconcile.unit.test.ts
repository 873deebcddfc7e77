// The reconfiguration plan (pure): origins, discovered DCs kept until aged out, exclusions, invalid addresses,
// referrals followed from non-referral DCs only (cycles vanish with their root), self-referrals ignored, depth bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TID } from '../../daemons/common/tid.js';
import { planReconfiguration, MAX_REFERRAL_DEPTH, type CurrentDc } from '../../daemons/finder/reconcile.js';
import { filterDiscoveryEntries } from '../../daemons/finder/dlpe.js';
import { decodeDiscoveryLog, encodeDiscoveryLog } from '../../daemons/nvme/protocol/discovery-log.js';
import { ctx, DISC, planBase, referral, tid } from './plan-helpers.js';

const cur = (
  t: TID,
  origin: CurrentDc['origin'],
  logPages: Record<string, string>[] = [],
  unresponsiveExpired = false,
): [string, CurrentDc] => [t.key(), { tid: t, origin, logPages, unresponsiveExpired }];

test('configured, advertised and kept discovered DCs with their origins', () => {
  const a = tid('10.0.0.1');
  const b = tid('10.0.0.2');
  const gone = tid('10.0.0.3');
  const aged = tid('10.0.0.4');
  const plan = planReconfiguration({
    ...planBase,
    configured: [a],
    advertised: [a, b],
    current: new Map([cur(gone, 'discovered'), cur(aged, 'discovered', [], true), cur(tid('10.0.0.9'), 'configured')]),
  });
  assert.equal(plan.want.get(a.key())?.origin, 'configured', 'configured wins over discovered');
  assert.equal(plan.want.get(b.key())?.origin, 'discovered');
  assert.equal(plan.want.get(gone.key())?.origin, 'discovered', 'an mDNS goodbye alone does not remove a DC');
  assert.ok(!plan.want.has(aged.key()), 'aged out');
  assert.deepEqual(plan.toDel.sort(), [aged.key(), tid('10.0.0.9').key()].sort());
  assert.deepEqual(plan.toAdd.map((p) => p.tid.traddr).sort(), ['10.0.0.1', '10.0.0.2']);
});

test('excluded and invalid discovered DCs are removed', () => {
  const x = tid('10.0.0.5');
  const bad = tid('not-an-address');
  const plan = planReconfiguration({
    ...planBase,
    excluded: (t) => t.traddr === '10.0.0.5',
    configured: [],
    advertised: [],
    current: new Map([cur(x, 'discovered'), cur(bad, 'discovered')]),
  });
  assert.equal(plan.want.size, 0);
  assert.equal(plan.toDel.length, 2);
});

test('referrals: followed with the referrer host fields, self-referral ignored, cycles disappear with their root', () => {
  const root = TID.fromCid(
    [
      ['transport', 'tcp'],
      ['traddr', '10.0.0.1'],
      ['trsvcid', '8009'],
      ['subsysnqn', DISC],
      ['host-iface', 'eth0'],
    ],
    ctx,
  );
  const r1 = TID.fromCid(
    [
      ['transport', 'tcp'],
      ['traddr', '10.0.0.2'],
      ['trsvcid', '8009'],
      ['subsysnqn', DISC],
      ['host-iface', 'eth0'],
    ],
    ctx,
  );
  const current = new Map([
    cur(root, 'configured', [referral('10.0.0.2'), referral('10.0.0.1')]),
    cur(r1, 'referral', [referral('10.0.0.1'), referral('10.0.0.2')]),
  ]);
  const plan = planReconfiguration({ ...planBase, configured: [root], advertised: [], current });
  assert.equal(plan.want.get(r1.key())?.origin, 'referral');
  assert.equal(plan.want.size, 2);
  assert.ok(plan.ignoredReferrals.some((w) => w.includes('refers to itself')));
  // the root is no longer configured: the referral (which refers back to it) must go too
  const plan2 = planReconfiguration({ ...planBase, configured: [], advertised: [], current });
  assert.deepEqual(plan2.toDel.sort(), [root.key(), r1.key()].sort());
});

test('referral chains are bounded', () => {
  const chain = Array.from({ length: MAX_REFERRAL_DEPTH + 3 }, (_, i) => tid(`10.1.0.${i + 1}`));
  const current = new Map(
    chain.map((t, i) =>
      cur(t, i === 0 ? 'configured' : 'referral', i + 1 < chain.length ? [referral(chain[i + 1]!.traddr)] : []),
    ),
  );
  const plan = planReconfiguration({ ...planBase, configured: [chain[0]!], advertised: [], current });
  assert.equal(plan.want.size, MAX_REFERRAL_DEPTH + 1);
  assert.ok(plan.ignoredReferrals.some((w) => w.includes('deeper')));
});

test('DLPE filter: unusable addresses dropped, garbage counted, odd codes kept as decimals', () => {
  const raw = encodeDiscoveryLog(1n, [
    { subnqn: 'nqn.a', traddr: '10.0.0.1', trsvcid: '4420' },
    { subnqn: 'nqn.b', traddr: '0.0.0.0', trsvcid: '4420' },
    { subnqn: 'nqn.c', traddr: '::', trsvcid: '4420', adrfam: 2 },
    { subnqn: 'nqn.d\u0007', traddr: '10.0.0.1', trsvcid: '4420' },
    { subnqn: 'nqn.e', traddr: '10.0.0.1', trsvcid: 'http' },
    { subnqn: 'nqn.f', traddr: 'fe80::1', trsvcid: '4420', adrfam: 1 },
    { subnqn: 'nqn.g', traddr: 'x', trsvcid: 'y', trtype: 9, adrfam: 9, subtype: 9, treq: 5 },
  ]);
  const r = filterDiscoveryEntries(decodeDiscoveryLog(raw).entries);
  assert.deepEqual(
    r.entries.map((e) => e.subnqn),
    ['nqn.a', 'nqn.g'],
  );
  assert.equal(r.unusable, 2);
  assert.deepEqual(
    r.malformed.map((m) => m.index),
    [3, 4, 5],
  );
  assert.deepEqual(
    {
      trtype: r.entries[1]!.trtype,
      adrfam: r.entries[1]!.adrfam,
      subtype: r.entries[1]!.subtype,
      treq: r.entries[1]!.treq,
    },
    { trtype: '9', adrfam: '9', subtype: '9', treq: '5' },
  );
});
