// TP8010 explicit registration by the real stafd (userspace driver) against the fake target: a CDC gets one DIM
// register describing this host (EID = host NQN, symbolic name from sys.conf) and no PLEO; a DDC gets DIM and PLEO;
// a DIM answered with an error status is a warning and the log page is still read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { FakeTarget } from '../harness/fake-target/index.js';
import { makeTestEtc } from '../harness/env.js';
import { startFinderRig, dcTuple, type FinderRig } from './rig.js';

const SYMNAME = 'stas-dim-test host';

const conf = (port: number): string =>
  `[Global]\npleo=enabled\n\n[Service Discovery]\nzeroconf=disabled\n\n[Controllers]\ncontroller=transport=tcp;traddr=127.0.0.1;trsvcid=${port}\n`;

async function withRig(
  dctype: number,
  body: (t: FakeTarget, rig: FinderRig) => Promise<void>,
  prepare?: (t: FakeTarget) => void,
): Promise<void> {
  const target = await FakeTarget.start({ dctype });
  prepare?.(target);
  const etc = makeTestEtc({ sys: `[Host]\nsymname=${SYMNAME}\n` });
  let rig: FinderRig | undefined;
  try {
    rig = await startFinderRig({ conf: conf(target.port), etc });
    await body(target, rig);
  } finally {
    await rig?.stop();
    await target.stop();
    etc.cleanup();
  }
}

async function firstLogPage(rig: FinderRig, target: FakeTarget): Promise<Record<string, string>[]> {
  const tid = dcTuple('127.0.0.1', String(target.port), rig.etc.hostnqn);
  return rig.waitFor(
    'the log page',
    async () => {
      const p = await rig.getLogPages(tid);
      return p.length ? p : undefined;
    },
    15_000,
  );
}

test('a CDC: one DIM register describing this host, no Supported Log Pages, log page read with LSP 0', async () => {
  await withRig(2, async (target, rig) => {
    const pages = await firstLogPage(rig, target);
    assert.equal(pages.length, target.discoveryEntries.length);
    assert.equal(target.stats.dims.length, 1, 'exactly one DIM');
    const dim = target.stats.dims[0]!;
    assert.equal(dim.tas, 0, 'TAS register');
    assert.equal(dim.eid, rig.etc.hostnqn);
    assert.equal(dim.nqn, rig.etc.hostnqn);
    assert.equal(dim.symname, SYMNAME);
    assert.equal(dim.hostId, rig.etc.hostid.replace(/-/g, ''));
    assert.equal(dim.ename, os.hostname());
    assert.ok(dim.ever.startsWith(`${os.type()} ${os.release()}`), dim.ever);
    assert.deepEqual([dim.entfmt, dim.etype, dim.ektype, dim.trtype, dim.adrfam, dim.traddr], [2, 1, 0x5f, 3, 1, '']);
    assert.equal(target.stats.supportedLogReads, 0, 'PLEO is not requested from a CDC');
    assert.ok(target.stats.logReads.length > 0);
    assert.ok(target.stats.logReads.every((r) => r.lsp === 0));
    const [d] = await rig.listControllers(true);
    assert.equal(d!.dctype, 'cdc');
    assert.equal(d!['register operation'], "{'fail count': 0, 'completed': True, 'alive': True}");
    assert.ok(!('get supported log page operation' in d!));
  });
});

test('a DDC: DIM register, then Supported Log Pages and the log page with PLEO', async () => {
  await withRig(1, async (target, rig) => {
    await firstLogPage(rig, target);
    assert.equal(target.stats.dims.length, 1);
    assert.equal(target.stats.dims[0]!.tas, 0);
    assert.equal(target.stats.dims[0]!.symname, SYMNAME);
    assert.ok(target.stats.supportedLogReads >= 1, 'Supported Log Pages read');
    assert.ok(target.stats.logReads.length > 0 && target.stats.logReads.every((r) => r.lsp === 2), 'LSP PLEO');
    const [d] = await rig.listControllers(true);
    assert.equal(d!.dctype, 'ddc');
    assert.ok('register operation' in d!);
    assert.ok('get supported log page operation' in d!);
  });
});

test('a DC that reports no dctype gets no DIM', async () => {
  await withRig(0, async (target, rig) => {
    await firstLogPage(rig, target);
    assert.equal(target.stats.dims.length, 0);
    const [d] = await rig.listControllers(true);
    assert.equal(d!.dctype, 'none');
    assert.ok(!('register operation' in d!));
  });
});

test('a DIM answered with an error status: warning "Registration error. <text>." and the log page is still read', async () => {
  await withRig(
    2,
    async (target, rig) => {
      const pages = await firstLogPage(rig, target);
      assert.equal(pages.length, target.discoveryEntries.length);
      assert.equal(target.stats.dims.length, 0, 'the fault answered the DIM');
      await rig.waitFor(
        'the warning',
        async () => (/Registration error\. Invalid Field in Command\./.test(rig.stafd.output()) ? true : undefined),
        5_000,
      );
      const [d] = await rig.listControllers(true);
      assert.equal(d!.connected, 'True');
      assert.match(d!['register operation']!, /'completed': True/);
    },
    (t) => t.addFault({ opc: 0x21, action: 'status', sct: 0, sc: 0x02, dnr: true, sticky: true }),
  );
});

test('a DIM that fails without a status is retried after 5 s, and the log page waits for it', async () => {
  await withRig(
    2,
    async (target, rig) => {
      // the first DIM is swallowed: the command times out (10 s), the op records the failure and arms the 5 s retry
      const failed = await rig.waitFor(
        'the failed register operation',
        async () => {
          const [d] = await rig.listControllers(true);
          return d?.['register operation']?.includes("'fail count': 1") ? d : undefined;
        },
        20_000,
      );
      assert.match(failed['register operation']!, /'completed': False/);
      assert.match(failed['register operation']!, /'retry timer': '5\.0s/);
      assert.equal(target.stats.logReads.length, 0, 'no log page before the registration went through');
      assert.equal((rig.stafd.output().match(/Failed to register with discovery controller\./g) ?? []).length, 1);
      await firstLogPage(rig, target);
      assert.equal(target.stats.dims.length, 1, 'the retry registered');
      const [d] = await rig.listControllers(true);
      assert.match(d!['register operation']!, /^\{'fail count': 1, 'completed': True, 'alive': True\}$/);
    },
    (t) => t.addFault({ opc: 0x21, action: 'never-reply' }),
  );
});
