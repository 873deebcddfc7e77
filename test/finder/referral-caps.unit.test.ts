// Referral caps in the reconfiguration plan (pure): a DC listing 30,000 referrals makes max-referrals-per-controller
// DCs, not 30,001; all referrers together stay within max-referrals; each cap is one notice per pass, not one per entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planReconfiguration, type CurrentDc } from '../../daemons/finder/reconcile.js';
import { planBase, referral, tid } from './plan-helpers.js';

const referralNo = (i: number): Record<string, string> =>
  referral(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
const base = { ...planBase, advertised: [] };

test('30,000 referrals from one DC: only max-referrals-per-controller are followed, one notice', () => {
  const root = tid('192.0.2.1');
  const pages = Array.from({ length: 30_000 }, (_, i) => referralNo(i + 1));
  const current = new Map<string, CurrentDc>([
    [root.key(), { tid: root, origin: 'configured', logPages: pages, unresponsiveExpired: false }],
  ]);
  const t0 = Date.now();
  const plan = planReconfiguration({ ...base, configured: [root], current, maxReferralsPerDc: 64, maxReferrals: 1024 });
  assert.ok(Date.now() - t0 < 5_000);
  assert.equal([...plan.want.values()].filter((p) => p.origin === 'referral').length, 64);
  assert.equal(plan.toAdd.length, 64);
  assert.equal(plan.toAdd[0]!.tid.traddr, '10.0.0.1', 'the first entries of the log are the ones followed');
  assert.deepEqual(plan.ignoredReferrals, [
    `${root} lists 30000 referrals: 29936 beyond max-referrals-per-controller=64 not followed`,
  ]);
});

test('max-referrals bounds all referrers together; 0 follows none', () => {
  const roots = Array.from({ length: 5 }, (_, r) => tid(`192.0.2.${r + 1}`));
  const current = new Map<string, CurrentDc>(
    roots.map((t, r) => [
      t.key(),
      {
        tid: t,
        origin: 'configured',
        logPages: Array.from({ length: 50 }, (_, i) => referralNo(r * 1000 + i + 1)),
        unresponsiveExpired: false,
      },
    ]),
  );
  const plan = planReconfiguration({ ...base, configured: roots, current, maxReferralsPerDc: 64, maxReferrals: 120 });
  assert.equal([...plan.want.values()].filter((p) => p.origin === 'referral').length, 120);
  assert.deepEqual(plan.ignoredReferrals, ['130 referral(s) beyond max-referrals=120 not followed']);

  const none = planReconfiguration({ ...base, configured: roots, current, maxReferralsPerDc: 0, maxReferrals: 120 });
  assert.equal(none.want.size, 5);
  assert.equal(none.ignoredReferrals.length, 5);
});

test('without caps (the plan defaults) every referral is followed, as before', () => {
  const root = tid('192.0.2.1');
  const current = new Map<string, CurrentDc>([
    [
      root.key(),
      {
        tid: root,
        origin: 'configured',
        logPages: Array.from({ length: 300 }, (_, i) => referralNo(i + 1)),
        unresponsiveExpired: false,
      },
    ],
  ]);
  const plan = planReconfiguration({ ...base, configured: [root], current });
  assert.equal(plan.want.size, 301);
  assert.deepEqual(plan.ignoredReferrals, []);
});
