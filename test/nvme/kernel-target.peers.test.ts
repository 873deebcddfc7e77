// The userspace NVMe/TCP host against the real Linux kernel target (nvmet-tcp in the suite's QEMU VM):
// discovery, I/O through in-capsule and R2T paths with and without digests, AENs with the RAE trap, keep-alive,
// connections dropped by the target, and `stasadm discover` with its exit codes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DISCOVERY_NQN } from '../../daemons/nvme/protocol/constants.js';
import type { AsyncEvent } from '../../daemons/nvme/protocol/log-pages.js';
import {
  AdminSession,
  ConnectionClosedError,
  IoQueue,
  NvmeStatusError,
  discoveryLogDicts,
  readDiscoveryLog,
  type NvmeTcpError,
  type SessionOptions,
} from '../../daemons/nvme/tcp/index.js';
import { ensureTargetVm, type TargetVm } from '../harness/target-vm/index.js';
import { waitFor, within } from '../harness/wait.js';
import { repoRoot } from '../harness/target-vm/paths.js';

const HOSTID = 'a1b2c3d4-0000-4000-8000-0123456789ab';
const HOSTNQN = `nqn.2014-08.org.nvmexpress:uuid:${HOSTID}`;
/** NQNs unique to this process: the VM is shared by every test file */
const TAG = `stas-nvme-${process.pid}`;
const NQN_BASE = 'nqn.2024-01.io.example:';

let vm: TargetVm;
const created: string[] = [];

before(
  async () => {
    vm = await ensureTargetVm();
  },
  { timeout: 240_000 },
);

after(async () => {
  for (const nqn of created) await vm.removeSubsystem(nqn).catch(() => undefined);
});

async function addSubsystem(name: string, portId: number, namespaces = 1): Promise<string> {
  const nqn = `${NQN_BASE}${TAG}-${name}`;
  await vm.addSubsystem(nqn, { namespaces, sizeMiB: 16 });
  created.push(nqn);
  await vm.linkSubsystem(nqn, portId);
  return nqn;
}

function opts(port: number, subnqn: string, extra: Partial<SessionOptions> = {}): SessionOptions {
  return { host: vm.host, port, subnqn, hostnqn: HOSTNQN, hostid: HOSTID, commandTimeoutMs: 10_000, ...extra };
}

describe('kernel target: discovery', { timeout: 120_000 }, () => {
  for (const dg of [false, true]) {
    it(`reads the discovery log: current discovery subsystem first, then the 3 boot subsystems (digests ${dg ? 'on' : 'off'})`, async () => {
      const s = await AdminSession.connect(opts(vm.discPort, DISCOVERY_NQN, { hdgst: dg, ddgst: dg }));
      try {
        assert.equal(s.queue.hdgst, dg, 'nvmet grants the header digest asked for');
        assert.equal(s.queue.ddgst, dg);
        assert.equal(s.cap, 0x000008200f0003ffn);
        assert.equal(s.vs, 0x10300);
        const idc = await s.identifyController();
        assert.equal(idc.subnqn, DISCOVERY_NQN);
        assert.equal(idc.mn, 'Linux');
        assert.equal(idc.nn, 0);
        const log = await readDiscoveryLog(s);
        const dicts = discoveryLogDicts(log);
        assert.ok(log.numrec >= 4n, `numrec ${log.numrec}`);
        assert.equal(dicts[0]!.subtype, 'discovery');
        assert.equal(dicts[0]!.subnqn, DISCOVERY_NQN);
        for (const nqn of vm.defaultSubsystems) {
          const d = dicts.find((x) => x.subnqn === nqn);
          assert.ok(d, `${nqn} in the log`);
          assert.deepEqual(
            {
              trtype: d.trtype,
              adrfam: d.adrfam,
              traddr: d.traddr,
              trsvcid: d.trsvcid,
              subtype: d.subtype,
              treq: d.treq,
              portid: d.portid,
              cntlid: d.cntlid,
              asqsz: d.asqsz,
              eflags: d.eflags,
            },
            {
              trtype: 'tcp',
              adrfam: 'ipv4',
              traddr: vm.guestIp,
              trsvcid: '8009',
              subtype: 'nvme',
              treq: 'disable sqflow',
              portid: '2',
              cntlid: '65535',
              asqsz: '32',
              eflags: '0',
            },
          );
        }
        // the same log read in 1 KiB chunks is byte-identical apart from nothing (GENCTR unchanged)
        const chunked = await readDiscoveryLog(s, { chunkBytes: 1024 });
        assert.equal(chunked.genctr, log.genctr);
        assert.deepEqual(chunked.raw, log.raw);
      } finally {
        assert.equal(await s.shutdown(), true, 'CC.SHN → CSTS.SHST complete');
      }
    });
  }
});

describe('kernel target: I/O', { timeout: 180_000 }, () => {
  let nqn: string;
  before(async () => {
    nqn = await addSubsystem('io', 1, 2);
  });

  for (const cfg of [
    { dg: false, noSqFlow: false },
    { dg: true, noSqFlow: false },
    { dg: false, noSqFlow: true },
    { dg: true, noSqFlow: true },
  ]) {
    it(`connect, identify, write+read 4 KiB in-capsule and 64 KiB via R2T (digests ${cfg.dg ? 'on' : 'off'}, SQ flow control ${cfg.noSqFlow ? 'off → C2HData SUCCESS' : 'on'})`, async () => {
      const admin = await AdminSession.connect(
        opts(vm.ioPort, nqn, { hdgst: cfg.dg, ddgst: cfg.dg, disableSqFlow: cfg.noSqFlow }),
      );
      let io: IoQueue | undefined;
      try {
        const idc = await admin.identifyController();
        assert.equal(idc.subnqn, nqn);
        assert.equal(idc.ioccsz, 1028);
        assert.equal(idc.cntlid, admin.cntlid);
        assert.deepEqual(await admin.activeNamespaces(), [1, 2]);
        const ns = await admin.namespaceInfo(1);
        assert.equal(ns.lbaSize, 4096, 'file namespaces on tmpfs have 4 KiB blocks');
        assert.equal(ns.sizeBytes, 16n * 1024n * 1024n);
        assert.match(ns.uuid ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        io = await IoQueue.open(admin, { identify: idc });
        assert.equal(io.queue.inlineDataLimit, 16384);
        const lba = (cfg.dg ? 100 : 0) + (cfg.noSqFlow ? 200 : 0);
        const small = randomBytes(4096);
        await io.write(ns, lba, small);
        assert.deepEqual(await io.read(ns, lba, 1), small);
        const big = randomBytes(65536);
        await io.write(ns, lba + 1, big); // 64 KiB > 16 KiB inline: R2T + H2CData
        assert.deepEqual(await io.read(ns, lba + 1, 16), big);
        assert.deepEqual(await io.read(ns, lba, 1), small, 'neighbouring block untouched');
        const st = io.queue.stats;
        assert.equal(st.inCapsuleWrites, 2, 'the Connect data and the 4 KiB write went in-capsule');
        assert.equal(st.r2ts, 1, 'the 64 KiB write went through one R2T (MAXR2T 0)');
        assert.ok(st.h2cDataPdus >= 1);
        // nvmet sets SUCCESS on the last C2HData (and sends no CapsuleResp) only with SQ flow control disabled
        assert.equal(st.c2hSuccess, cfg.noSqFlow ? 3 : 0);
        // nvmet answers a read past the end with Capacity Exceeded
        await assert.rejects(
          io.read(ns, ns.blocks, 1),
          (e: unknown) => e instanceof NvmeStatusError && /Capacity Exceeded|LBA Out of Range/.test(e.message),
        );
      } finally {
        io?.close();
        admin.close();
      }
    });
  }

  it('Connect to an unknown subsystem is rejected with a readable status', async () => {
    const e = await AdminSession.connect(opts(vm.ioPort, `${NQN_BASE}${TAG}-missing`)).catch((x: unknown) => x);
    assert.ok(e instanceof NvmeStatusError, String(e));
    assert.match(e.message, /Connect Invalid Parameters .*: invalid SUBNQN \(Connect data byte 256\)/);
  });
});

describe('kernel target: AEN on discovery changes (RAE trap)', { timeout: 120_000 }, () => {
  it('sees an AEN 0x0070F002 and the new entry for each of two links in a row', async () => {
    const s = await AdminSession.connect(opts(vm.discPort, DISCOVERY_NQN, { katoMs: 30_000 }));
    const events: AsyncEvent[] = [];
    s.on('aen', (e) => events.push(e));
    try {
      await s.enableAsyncEvents();
      const before0 = await readDiscoveryLog(s);
      // more than 3 records: the case where libnvme 1.3 left the notice masked
      assert.ok(before0.numrec > 3n);
      let genctr = before0.genctr;
      for (const name of ['aen1', 'aen2']) {
        const next = within(new Promise<AsyncEvent>((r) => s.once('aen', r)), 15_000, `AEN after linking ${name}`);
        const nqn = await addSubsystem(name, 2);
        const ev = await next;
        assert.equal(ev.dw0, 0x0070f002);
        assert.ok(ev.discoveryLogChange);
        const log = await readDiscoveryLog(s); // final read RAE=0 re-arms the notice
        assert.ok(log.genctr > genctr, 'GENCTR moved');
        genctr = log.genctr;
        assert.ok(
          discoveryLogDicts(log).some((d) => d.subnqn === nqn),
          `${nqn} listed after the AEN`,
        );
      }
      assert.equal(events.length, 2);
    } finally {
      s.close();
    }
  });
});

describe('kernel target: keep-alive', { timeout: 60_000 }, () => {
  it('an idle discovery session with KATO 5 s outlives two KATOs; one without keep-alives is dropped', async () => {
    const alive = await AdminSession.connect(opts(vm.discPort, DISCOVERY_NQN, { katoMs: 5000 }));
    const silent = await AdminSession.connect(
      opts(vm.discPort, DISCOVERY_NQN, { katoMs: 5000, keepAliveIntervalMs: 3_600_000 }),
    );
    const silentClosed = new Promise<NvmeTcpError>((r) => silent.once('close', r));
    let aliveClosed: NvmeTcpError | undefined;
    alive.once('close', (r) => (aliveClosed = r));
    try {
      // nvmet drops the silent one once its KATO expires ...
      const reason = await within(silentClosed, 30_000, 'nvmet dropping the silent session');
      assert.ok(reason instanceof ConnectionClosedError, String(reason));
      // ... while the other one, sending a keep-alive every KATO/2, is still up after 4 of them (two KATOs)
      await waitFor('4 keep-alives on the kept-alive session', () => aliveClosed ?? alive.keepAlivesSent >= 4, 30_000);
      assert.equal(aliveClosed, undefined, `kept-alive session closed: ${aliveClosed?.message}`);
      const log = await readDiscoveryLog(alive);
      assert.ok(log.numrec >= 4n);
    } finally {
      alive.close();
      silent.close();
    }
  });
});

describe('kernel target: the target going away', { timeout: 60_000 }, () => {
  it('unlinking the subsystem from the port drops admin and I/O connections with a clear error', async () => {
    const nqn = await addSubsystem('drop', 1);
    const admin = await AdminSession.connect(opts(vm.ioPort, nqn, { katoMs: 30_000 }));
    const ns = await admin.namespaceInfo(1);
    const io = await IoQueue.open(admin);
    await io.write(ns, 0, Buffer.alloc(4096, 1));
    const adminClosed = new Promise<NvmeTcpError>((r) => admin.once('close', r));
    const ioClosed = new Promise<NvmeTcpError>((r) => io.queue.once('close', r));
    await vm.unlinkSubsystem(nqn, 1);
    const [a, b] = await within(Promise.all([adminClosed, ioClosed]), 15_000, 'connections dropped');
    for (const r of [a, b]) {
      assert.ok(r instanceof ConnectionClosedError, String(r));
      assert.match(r.message, /connection (closed|reset) by the target/);
    }
    await assert.rejects(io.read(ns, 0, 1), ConnectionClosedError);
    await assert.rejects(admin.keepAlive(), ConnectionClosedError);
  });
});

// ------------------------------------------------------------------------------------------------ stasadm discover

function runStasadm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const fromSource = import.meta.url.endsWith('.ts');
  const argv = fromSource
    ? ['--import', 'tsx', join(repoRoot, 'ctl', 'stasadm.ts'), ...args]
    : [join(repoRoot, 'dist', 'ctl', 'stasadm.js'), ...args];
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, argv, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

describe('stasadm discover', { timeout: 120_000 }, () => {
  it('prints the DLPE dicts as JSON against the kernel target (with digests)', async () => {
    const r = await runStasadm([
      'discover',
      '-t',
      'tcp',
      '-a',
      vm.host,
      '-s',
      String(vm.discPort),
      '-q',
      HOSTNQN,
      '--hostid',
      HOSTID,
      '--hdr-digest',
      '--data-digest',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { genctr: number; numrec: number; entries: Record<string, string>[] };
    assert.equal(j.numrec, j.entries.length);
    assert.ok(j.numrec >= 4);
    assert.equal(j.entries[0]!.subtype, 'discovery');
    for (const nqn of vm.defaultSubsystems)
      assert.ok(j.entries.some((e) => e.subnqn === nqn && e.traddr === vm.guestIp && e.trsvcid === '8009'));
    assert.deepEqual(Object.keys(j.entries[0]!), [
      'trtype',
      'adrfam',
      'traddr',
      'trsvcid',
      'subnqn',
      'subtype',
      'treq',
      'portid',
      'cntlid',
      'asqsz',
      'eflags',
    ]);
  });

  it('prints a readable table per entry', async () => {
    const r = await runStasadm(['discover', '-a', vm.host, '-s', String(vm.discPort)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Discovery Log Number of Records \d+, Generation counter \d+/);
    assert.match(
      r.stdout,
      /=====Discovery Log Entry 0======\ntrtype: {2}tcp\nadrfam: {2}ipv4\nsubtype: current discovery subsystem/,
    );
    assert.match(r.stdout, new RegExp(`subnqn: {2}${vm.defaultSubsystems[0]!.replace(/\./g, '\\.')}`));
  });

  it('exit 4 and one line on a closed port', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const r = await runStasadm(['discover', '-a', '127.0.0.1', '-s', String(port)]);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /^stasadm discover: cannot connect to 127\.0\.0\.1:\d+: connection refused$/m);
  });

  it('exit 5 against a listener that is not NVMe/TCP', async () => {
    const srv = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const r = await runStasadm([
        'discover',
        '-a',
        '127.0.0.1',
        '-s',
        String((srv.address() as net.AddressInfo).port),
      ]);
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.match(r.stderr, /is not an NVMe\/TCP target: bad reply to ICReq/);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('exit 6 when the target rejects the Connect (unknown discovery NQN), exit 2 on a bad port', async () => {
    const r = await runStasadm(['discover', '-a', vm.host, '-s', String(vm.discPort), '-n', `${NQN_BASE}${TAG}-nodc`]);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /Connect Invalid Parameters/);
    const u = await runStasadm(['discover', '-a', vm.host, '-s', '70000']);
    assert.equal(u.code, 2);
  });
});
