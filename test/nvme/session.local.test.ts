// The userspace NVMe/TCP host against the in-process fake target: framing across 1-byte segments, digests, R2T,
// the C2HData SUCCESS flag, AEN + RAE, GENCTR races, keep-alive, timeouts, TermReq, mid-PDU closes, bad peers.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { DISCOVERY_NQN } from '../../daemons/nvme/protocol/constants.js';
import { DigestError } from '../../daemons/nvme/protocol/errors.js';
import type { AsyncEvent } from '../../daemons/nvme/protocol/log-pages.js';
import {
  AdminSession,
  ConnectFailedError,
  ConnectionClosedError,
  IoQueue,
  NotNvmePeerError,
  NvmeStatusError,
  NvmeTcpError,
  TermReqError,
  TimeoutError,
  TransportProtocolError,
  discoveryLogDicts,
  exitCodeFor,
  readDiscoveryLog,
} from '../../daemons/nvme/tcp/index.js';
import { HOSTID, HOSTNQN, opts, target } from './fake-sessions.js';
import { within } from '../harness/wait.js';

const nextAen = (s: AdminSession, ms: number): Promise<AsyncEvent> =>
  within(new Promise<AsyncEvent>((res) => s.once('aen', res)), ms, 'AEN');

describe('discovery against the fake target', () => {
  for (const [name, extra] of [
    ['plain', {}],
    ['1-byte segments', { segmentBytes: 1 }],
  ] as const) {
    for (const dg of [false, true]) {
      it(`connect, identify, read the log (${name}, digests ${dg ? 'on' : 'off'})`, async () => {
        const t = await target({ ...extra, c2hChunk: 700 });
        const s = await AdminSession.connect(opts(t, { hdgst: dg, ddgst: dg }));
        try {
          assert.equal(s.queue.hdgst, dg);
          assert.equal(s.queue.ddgst, dg);
          assert.equal(s.cap, 0x000008200f0003ffn);
          const idc = await s.identifyController();
          assert.equal(idc.subnqn, DISCOVERY_NQN);
          assert.equal(idc.cntrltype, 2);
          const log = await readDiscoveryLog(s);
          assert.equal(log.numrec, 2n);
          const dicts = discoveryLogDicts(log);
          assert.equal(dicts[0]!.subtype, 'discovery');
          assert.equal(dicts[1]!.subnqn, t.subsystems[0]!.nqn);
          assert.equal(dicts[1]!.trsvcid, String(t.port));
          // the last read of the fetch has RAE=0
          assert.equal(t.stats.logReads.at(-1)!.rae, false);
        } finally {
          assert.equal(await s.shutdown(), true, 'CC.SHN handshake completes');
        }
      });
    }
  }

  it('reads a large log in chunks and re-reads while GENCTR moves; the final read has RAE=0', async () => {
    const entries = Array.from({ length: 20 }, (_, i) => ({
      subnqn: `nqn.2024-01.io.example:n${i}`,
      traddr: '10.0.0.1',
      trsvcid: '4420',
    }));
    let changes = 2;
    const t = await target({
      discoveryEntries: entries,
      onLogRead: (r, tg) => {
        // change the log in the middle of the first two fetches (at their first entries chunk)
        if (r.offset === 1024 && changes > 0) {
          changes--;
          tg.setDiscoveryEntries([
            ...tg.discoveryEntries,
            { subnqn: `nqn.2024-01.io.example:late${changes}`, traddr: '10.0.0.2', trsvcid: '4420' },
          ]);
        }
      },
    });
    const s = await AdminSession.connect(opts(t));
    try {
      const log = await readDiscoveryLog(s, { chunkBytes: 4096 });
      assert.equal(log.attempts, 3);
      assert.equal(log.numrec, 22n);
      assert.equal(log.entries.length, 22);
      assert.equal(log.genctr, t.genctr);
      const reads = t.stats.logReads;
      assert.ok(reads.filter((r) => r.offset > 0).every((r) => r.length <= 4096));
      assert.equal(reads.at(-1)!.rae, false);
      assert.ok(
        reads.slice(0, -1).some((r) => r.rae),
        'intermediate reads keep the event (RAE=1)',
      );
    } finally {
      s.close();
    }
  });

  it('gives up with a typed error when GENCTR never settles', async () => {
    const t = await target({ onLogRead: (r, tg) => !r.rae && tg.setDiscoveryEntries(tg.discoveryEntries) });
    const s = await AdminSession.connect(opts(t));
    try {
      await assert.rejects(readDiscoveryLog(s, { maxAttempts: 3 }), /kept changing/);
    } finally {
      s.close();
    }
  });

  it('passes LSP through (PLEO)', async () => {
    const t = await target();
    const s = await AdminSession.connect(opts(t));
    try {
      await readDiscoveryLog(s, { lsp: 2 });
      assert.ok(t.stats.logReads.every((r) => r.lsp === 2));
    } finally {
      s.close();
    }
  });
});

describe('AEN and the RAE trap', () => {
  it('sees every discovery change: AER re-armed and the mask cleared by the RAE=0 read', async () => {
    const t = await target();
    const s = await AdminSession.connect(opts(t, { katoMs: 10_000 }));
    try {
      await s.enableAsyncEvents();
      await readDiscoveryLog(s);
      for (let i = 1; i <= 3; i++) {
        const aen = nextAen(s, 2000);
        t.setDiscoveryEntries([
          ...t.discoveryEntries,
          { subnqn: `nqn.2024-01.io.example:new${i}`, traddr: '127.0.0.1', trsvcid: '4420' },
        ]);
        const ev = await aen;
        assert.equal(ev.dw0, 0x0070f002);
        assert.equal(ev.discoveryLogChange, true);
        const log = await readDiscoveryLog(s);
        assert.ok(discoveryLogDicts(log).some((d) => d.subnqn === `nqn.2024-01.io.example:new${i}`));
      }
      assert.equal(s.aenCount, 3);
    } finally {
      s.close();
    }
  });

  it('(control) a fetch that ends with RAE=1 leaves the notice masked: no second AEN', async () => {
    const t = await target();
    const s = await AdminSession.connect(opts(t));
    try {
      await s.enableAsyncEvents();
      const first = nextAen(s, 2000);
      t.setDiscoveryEntries([...t.discoveryEntries]);
      await first;
      await s.getLogPage({ lid: 0x70, length: 1024, rae: true });
      const second = nextAen(s, 600);
      t.setDiscoveryEntries([...t.discoveryEntries]);
      await assert.rejects(second, /not within/);
      // now clear it: the pending change fires at once
      const third = nextAen(s, 2000);
      await s.getLogPage({ lid: 0x70, length: 1024, rae: false });
      await third;
    } finally {
      s.close();
    }
  });
});

describe('I/O queues', () => {
  for (const dg of [false, true]) {
    it(`writes in-capsule (4 KiB) and via R2T/H2CData (64 KiB, MAXH2CDATA 8 KiB), reads back (digests ${dg ? 'on' : 'off'})`, async () => {
      const t = await target({ maxh2cdata: 8192, c2hChunk: 5000, ioccsz: 260 /* 4096 inline */ });
      const admin = await AdminSession.connect(opts(t, { subnqn: t.subsystems[0]!.nqn, hdgst: dg, ddgst: dg }));
      try {
        assert.deepEqual(await admin.activeNamespaces(), [1, 2]);
        const ns1 = await admin.namespaceInfo(1);
        const ns2 = await admin.namespaceInfo(2);
        assert.equal(ns1.lbaSize, 4096);
        assert.equal(ns2.lbaSize, 512);
        assert.equal(ns1.uuid, '11111111-2222-4333-8444-555555555555');
        const io = await IoQueue.open(admin);
        assert.equal(io.queue.inlineDataLimit, 4096);
        const small = Buffer.alloc(4096, 0x5a);
        await io.write(ns1, 10, small);
        assert.deepEqual(await io.read(ns1, 10, 1), small);
        const big = Buffer.alloc(65536);
        for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
        await io.write(ns1, 20, big);
        assert.deepEqual(t.block(1, 35), big.subarray(15 * 4096));
        assert.deepEqual(await io.read(ns1, 20, 16), big);
        assert.equal(io.queue.stats.r2ts, 1);
        assert.equal(io.queue.stats.h2cDataPdus, 8, '64 KiB in 8 KiB H2CData PDUs');
        assert.equal(io.queue.stats.inCapsuleWrites, 2, 'Connect data + the 4 KiB write');
        // 512-byte namespace: NLB counts 512-byte blocks
        await io.write(ns2, 3, big.subarray(0, 8192));
        assert.deepEqual(await io.read(ns2, 3, 16), big.subarray(0, 8192));
        await assert.rejects(
          io.read(ns1, 255, 2),
          (e: unknown) => e instanceof NvmeStatusError && /LBA Out of Range/.test(e.message),
        );
        io.close();
      } finally {
        admin.close();
      }
    });
  }

  it('handles the C2HData SUCCESS flag (SQ flow control disabled: no CapsuleResp after reads)', async () => {
    const t = await target({ c2hChunk: 1000 });
    const admin = await AdminSession.connect(opts(t, { subnqn: t.subsystems[0]!.nqn, disableSqFlow: true }));
    try {
      assert.equal(t.stats.connects.at(-1)!.cattr, 0x04);
      const ns = await admin.namespaceInfo(1);
      const io = await IoQueue.open(admin);
      const data = Buffer.alloc(8192, 0xc3);
      await io.write(ns, 0, data);
      for (let i = 0; i < 5; i++) assert.deepEqual(await io.read(ns, 0, 2), data);
      assert.equal(io.queue.stats.c2hSuccess, 5);
      assert.equal(io.queue.outstanding, 0);
      io.close();
    } finally {
      admin.close();
    }
  });

  it('allocates distinct CIDs for many concurrent commands', async () => {
    const t = await target({ segmentBytes: 3 });
    const admin = await AdminSession.connect(opts(t, { subnqn: t.subsystems[0]!.nqn }));
    try {
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => admin.namespaceInfo(1 + (i % 2))));
      assert.ok(results.every((r, i) => r.nsid === 1 + (i % 2) && r.lbaSize === (i % 2 ? 512 : 4096)));
    } finally {
      admin.close();
    }
  });
});

describe('keep-alive', () => {
  it('keeps an idle association alive past KATO, sending Keep Alive at KATO/2', async () => {
    const t = await target({ enforceKato: true });
    const s = await AdminSession.connect(opts(t, { katoMs: 400 }));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(s.closed, false);
      assert.ok(s.keepAlivesSent >= 5, `sent ${s.keepAlivesSent}`);
      assert.equal(t.stats.keepAlives, s.keepAlivesSent);
    } finally {
      s.close();
    }
  });

  it('(control) without keep-alives the target drops the association and the session reports it', async () => {
    const t = await target({ enforceKato: true });
    const s = await AdminSession.connect(opts(t, { katoMs: 300, keepAliveIntervalMs: 60_000 }));
    const reason = await within(new Promise<NvmeTcpError>((r) => s.once('close', r)), 3000, 'close');
    assert.ok(reason instanceof ConnectionClosedError);
    assert.match(reason.message, /closed by the target/);
  });
});

describe('faults', () => {
  it('per-command timeout rejects that command only; the queue keeps working', async () => {
    const t = await target();
    const s = await AdminSession.connect(opts(t));
    try {
      t.addFault({ opc: 0x06, action: 'never-reply' });
      const t0 = Date.now();
      await assert.rejects(
        s.submit(
          {
            name: 'Identify',
            sqe: (await import('../../daemons/nvme/protocol/commands.js')).identifyControllerCommand().sqe,
            readLength: 4096,
          },
          { timeoutMs: 300 },
        ),
        TimeoutError,
      );
      assert.ok(Date.now() - t0 < 1500);
      assert.equal((await s.identifyController()).subnqn, DISCOVERY_NQN);
    } finally {
      s.close();
    }
  });

  it('error status → NvmeStatusError with a readable name (exit class 6)', async () => {
    const t = await target();
    const s = await AdminSession.connect(opts(t));
    try {
      t.addFault({ opc: 0x02, action: 'status', sct: 1, sc: 0x09 });
      const e = await readDiscoveryLog(s).then(
        () => undefined,
        (x: unknown) => x,
      );
      assert.ok(e instanceof NvmeStatusError);
      assert.match(e.message, /GetLogPage\(LID=0x70.*Invalid Log Page \(SCT=0x1 SC=0x09\)/);
      assert.equal(exitCodeFor(e), 6);
    } finally {
      s.close();
    }
  });

  it('C2HTermReq → TermReqError for every pending command and the close event', async () => {
    const t = await target();
    const s = await AdminSession.connect(opts(t));
    await s.enableAsyncEvents();
    const closed = new Promise<NvmeTcpError>((r) => s.once('close', r));
    t.addFault({ opc: 0x06, action: 'term-req' });
    await assert.rejects(
      s.identifyController(),
      (e: unknown) => e instanceof TermReqError && /PDU Sequence Error/.test(e.message),
    );
    assert.ok((await closed) instanceof TermReqError);
    await assert.rejects(s.keepAlive(), TermReqError);
  });

  it('target closing in the middle of a PDU → ConnectionClosedError naming it', async () => {
    const t = await target();
    const s = await AdminSession.connect(opts(t));
    t.addFault({ opc: 0x18, action: 'close-mid-pdu' });
    const e = await s.keepAlive().then(
      () => undefined,
      (x: unknown) => x,
    );
    assert.ok(e instanceof ConnectionClosedError, String(e));
    assert.match(e.message, /middle of a PDU/);
    assert.equal(s.closed, true);
  });

  it('socket close rejects all pending commands (outstanding AER + a command that never completes)', async () => {
    const t = await target();
    const s = await AdminSession.connect(opts(t));
    await s.enableAsyncEvents();
    t.addFault({ opc: 0x06, action: 'never-reply' });
    const p = s.identifyController();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.queue.outstanding, 2);
    const closed = new Promise<NvmeTcpError>((r) => s.once('close', r));
    t.dropAll();
    await assert.rejects(
      p,
      (e: unknown) => e instanceof ConnectionClosedError && /2 command\(s\) failed/.test(e.message),
    );
    await closed;
    assert.equal(s.queue.outstanding, 0);
  });

  it('garbage PDU, wrong CID and bad digests after setup → protocol errors (exit class 5)', async () => {
    for (const [action, dg, re] of [
      ['garbage', false, /not an NVMe\/TCP PDU type/],
      ['wrong-cid', false, /no command outstanding/],
      ['bad-header-digest', true, /header digest mismatch/],
      ['bad-data-digest', true, /data digest mismatch/],
    ] as const) {
      const t = await target();
      const s = await AdminSession.connect(opts(t, { hdgst: dg, ddgst: dg }));
      t.addFault({ opc: 0x06, action });
      const e = await s.identifyController().then(
        () => undefined,
        (x: unknown) => x,
      );
      assert.ok(e instanceof TransportProtocolError, `${action}: ${String(e)}`);
      assert.match(e.message, re);
      if (action.includes('digest')) assert.ok(e.cause instanceof DigestError);
      assert.equal(exitCodeFor(e), 5);
      assert.equal(s.closed, true);
    }
  });
});

describe('connection errors are classified', () => {
  it('refused', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const e = await AdminSession.connect({
      host: '127.0.0.1',
      port,
      subnqn: DISCOVERY_NQN,
      hostnqn: HOSTNQN,
      hostid: HOSTID,
    }).catch((x: unknown) => x);
    assert.ok(e instanceof ConnectFailedError && e.kind === 'refused');
    assert.equal(exitCodeFor(e), 4);
  });

  for (const [mode, cls, re, code] of [
    ['garbage', NotNvmePeerError, /HTTP\/1\.1/, 5],
    ['close', NotNvmePeerError, /closed before ICResp/, 5],
    ['bad-pfv', NotNvmePeerError, /PFV 1/, 5],
    ['silent', TimeoutError, /ICResp/, 3],
  ] as const) {
    it(`peer that answers an ICReq with "${mode}"`, async () => {
      const t = await target({ icMode: mode });
      const e = await AdminSession.connect(opts(t, { icTimeoutMs: 300 })).catch((x: unknown) => x);
      assert.ok(e instanceof cls, String(e));
      assert.match((e as Error).message, re);
      assert.equal(exitCodeFor(e), code);
    });
  }

  it('Connect rejected (unknown subsystem NQN) names the parameter', async () => {
    const t = await target();
    const e = await AdminSession.connect(opts(t, { subnqn: 'nqn.2024-01.io.example:nope' })).catch((x: unknown) => x);
    assert.ok(e instanceof NvmeStatusError);
    assert.match(e.message, /Connect Invalid Parameters .*SUBNQN \(Connect data byte 256\)/);
    for (let i = 0; i < 100 && t.connectionCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(t.connectionCount, 0, 'the failed connection is closed');
  });
});
