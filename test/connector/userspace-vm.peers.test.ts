// stacd with the userspace driver on the host against the real Linux nvmet target in QEMU, with the real stafd
// finding the subsystems. nvmet's discovery log says traddr=10.0.2.15 (the guest), unreachable through user-net
// forwards: stacd keeps that address in its TIDs and the userspace driver's STAS_USERSPACE_ADDRESS_MAP sends the
// sockets to the host forwards (vm.mapAddress).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTargetVm, type TargetVm } from '../harness/target-vm/index.js';
import { repoRoot } from '../harness/repo.js';
import { startConnectorRig, waitFor, connectedNqns, type ConnectorRig } from './rig.js';

const PORT_DISC = 2;

describe('stacd (userspace driver) following stafd against the kernel target', { timeout: 240_000 }, () => {
  let vm: TargetVm;
  let rig: ConnectorRig;
  const extra = `nqn.2024-01.io.example:stacd-${randomBytes(4).toString('hex')}`;

  before(async () => {
    vm = await ensureTargetVm();
    const map = [`${vm.guestIp}:8009=127.0.0.1:${vm.discPort}`, `${vm.guestIp}:4420=127.0.0.1:${vm.ioPort}`].join(',');
    rig = await startConnectorRig({
      stafdConf: `[Global]\n[Controllers]\ncontroller=transport=tcp;traddr=127.0.0.1;trsvcid=${vm.discPort}\n`,
      stacdConf: '[Global]\n',
      env: { STAS_USERSPACE_ADDRESS_MAP: map },
    });
  });
  after(async () => {
    await rig?.stop();
    await vm?.removeSubsystem(extra).catch(() => undefined);
  });

  it('connects every NVM subsystem stafd found, with nvme-stas keys', async () => {
    const want = [...vm.defaultSubsystems].sort();
    const list = await waitFor(
      'the default subsystems connected',
      async () => {
        const l = await rig.list(true);
        return want.every((n) => connectedNqns(l).includes(n)) ? l : undefined;
      },
      60_000,
    );
    const golden = JSON.parse(
      readFileSync(join(repoRoot(), '..', 'shared', 'spec', 'nvme-stas-golden', 'stac-list-detailed.json'), 'utf8'),
    ) as { data: Record<string, string>[][] };
    const goldenKeys = Object.keys(golden.data[0]![0]!);
    const mine = list.find((c) => c.subsysnqn === want[0])!;
    assert.deepEqual(Object.keys(mine), goldenKeys);
    assert.equal(mine.transport, 'tcp');
    assert.equal(mine.traddr, vm.guestIp);
    assert.equal(mine['connect attempts'], '0');
    assert.equal(mine['retry connect timer'], '60.0s [off]');
    assert.equal(mine.cntrltype, 'io');
    assert.match(mine.dlpe, /^\{'trtype': 'tcp', 'adrfam': 'ipv4', 'traddr': '10\.0\.2\.15', /);
    assert.equal(mine['dlpe.eflags.ncc'], 'False');
    const ids = await rig.list(false);
    assert.deepEqual(Object.keys(ids.find((c) => c.subsysnqn === want[0])!), [
      'traddr',
      'trsvcid',
      'transport',
      'subsysnqn',
      'host-iface',
      'host-traddr',
      'host-nqn',
      'device',
    ]);
  });

  it('a reload of a broken file is refused by both daemons and drops no connection', async () => {
    const before = connectedNqns(await rig.list(true));
    assert.ok(before.length >= 3, `connections up first: ${before.join(', ')}`);
    const peers = (await vm.tcpPeers(4420)).sort();
    const good = { stafd: readFileSync(rig.etc.stafdConf, 'utf8'), stacd: readFileSync(rig.etc.stacdConf, 'utf8') };
    const marks = { stafd: rig.stafd!.mark(), stacd: rig.stacd.mark() };
    try {
      // a typo in a controller= line (a token without "="), the way an administrator makes one
      rig.etc.write('stafd.conf', good.stafd.replace(`trsvcid=${vm.discPort}`, `trsvcid${vm.discPort}`));
      rig.etc.write(
        'stacd.conf',
        `${good.stacd}[Controllers]\ncontroller=transport=tcp;traddr=${vm.guestIp};trsvcid4420\n`,
      );
      rig.stafd!.signal('SIGHUP');
      rig.stacd.signal('SIGHUP');
      assert.match(await rig.stafd!.waitForLog('reload refused', 15_000, marks.stafd), /stafd\.conf/);
      assert.match(await rig.stacd.waitForLog('reload refused', 15_000, marks.stacd), /stacd\.conf/);
      // what stacd would do now (its running configuration) disconnects nothing; every connection is still up,
      // on the same TCP connections
      const plan = await rig.plan();
      assert.deepEqual(
        plan.steps.filter((st) => st.action === 'disconnect'),
        [],
      );
      assert.deepEqual(connectedNqns(await rig.list(true)), before);
      assert.deepEqual((await vm.tcpPeers(4420)).sort(), peers, 'the target saw no connection closed or made');
    } finally {
      rig.etc.write('stafd.conf', good.stafd);
      rig.etc.write('stacd.conf', good.stacd);
    }
  });

  it('connects a subsystem linked at run time on its AEN, and disconnects it when unlinked', async () => {
    await vm.addSubsystem(extra, { namespaces: 1, sizeMiB: 16 });
    const mark = rig.stacd.mark();
    await vm.linkSubsystem(extra, PORT_DISC);
    // the figure (AEN → connected) is npm run bench's; here: connected within 10 s, before stafd's 20 s re-read
    // could have found it (the AEN path), and stacd's pass came from stafd's signal
    await waitFor(
      `${extra} connected`,
      async () => (connectedNqns(await rig.list(true)).includes(extra) ? true : undefined),
      10_000,
    );
    await rig.stacd.waitForLog('reconcile trigger: log_pages_changed', 1_000, mark);

    await vm.unlinkSubsystem(extra, PORT_DISC);
    await waitFor(
      `${extra} gone (only-stas-connections)`,
      async () => ((await rig.list(false)).some((c) => c.subsysnqn === extra) ? undefined : true),
      10_000,
    );
    await rig.stacd.waitForLog(
      /disconnect: no longer in any discovery log page.*disconnect-scope=only-stas-connections/,
      5_000,
    );
  });

  it('killing stafd disconnects nothing, even across a reload; restarting stacd keeps every connection', async () => {
    const before = connectedNqns(await rig.list(true));
    assert.ok(before.length >= 3);
    const mark = rig.stacd.mark();
    rig.stafd!.signal('SIGKILL');
    await rig.stacd.waitForLog('stafd left the bus', 10_000, mark);
    const beforeReload = rig.stacd.mark();
    rig.stacd.signal('SIGHUP'); // a pass while stafd is gone
    await rig.stacd.waitForLog(/^.*reconcile: /, 15_000, beforeReload);
    assert.deepEqual(connectedNqns(await rig.list(true)), before);
    const plan = await rig.plan();
    assert.equal(plan.steps.filter((s) => s.action === 'disconnect').length, 0);
    assert.ok(plan.steps.filter((s) => s.origin === 'discovered').every((s) => s.action === 'keep'));

    // restart stacd while stafd is still down: the cache brings every connection back, nothing is dropped
    await rig.restartStacd();
    const after = await waitFor(
      'connections back after restart',
      async () => {
        const l = connectedNqns(await rig.list(true));
        return before.every((n) => l.includes(n)) ? l : undefined;
      },
      20_000,
    );
    assert.deepEqual(after, before);
    assert.equal(rig.stacd.output().includes('disconnect:'), false);
    const info = await rig.processInfo();
    assert.equal(info['stas.fabrics driver'], 'userspace');
    assert.equal(info['stas.stafd'], 'absent');
  });
});
