// Bounded fuzzing of the decoders and of the queue's receive path: random, truncated and bit-flipped PDUs and log
// pages must produce only typed errors (ProtocolError from the codecs, NvmeTcpError from the queue), never hang.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import {
  ProtocolError,
  concatSegments,
  decodeAsyncEvent,
  decodeCqe,
  decodeDiscoveryLog,
  decodePdu,
  encodeC2HData,
  encodeCapsuleResp,
  encodeCqe,
  encodeDiscoveryLog,
  encodeIcResp,
  encodeR2T,
  encodeTermReq,
  parseIdentifyController,
  parseIdentifyNamespace,
  parseNamespaceDescriptors,
  parseSupportedLogPages,
  pduLength,
} from '../../daemons/nvme/protocol/index.js';
import { NvmeTcpError } from '../../daemons/nvme/tcp/errors.js';
import { NvmeTcpQueue } from '../../daemons/nvme/tcp/queue.js';
import { identifyControllerCommand } from '../../daemons/nvme/protocol/commands.js';
import { xorshift32 as rng } from '../harness/rng.js';

function onlyTyped(fn: () => unknown, ctx: string): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ProtocolError))
      assert.fail(`${ctx}: threw a non-ProtocolError: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

const OPTS = [
  { hdgst: false, ddgst: false },
  { hdgst: true, ddgst: true },
  { hdgst: true, ddgst: false },
];

function validPdus(): Buffer[] {
  const out: Buffer[] = [
    encodeIcResp({ hdgst: true, ddgst: true, maxh2cdata: 0x400000 }),
    encodeTermReq('C2H', 1, 2, Buffer.alloc(24, 1)),
  ];
  for (const o of OPTS) {
    out.push(concatSegments(encodeCapsuleResp(encodeCqe({ cid: 5, dw0: 0x70f002 }), o)));
    out.push(concatSegments(encodeC2HData({ cccid: 5, datao: 0, last: true, success: true }, Buffer.alloc(100, 7), o)));
    out.push(concatSegments(encodeR2T({ cccid: 5, ttag: 1, r2to: 0, r2tl: 4096 }, o)));
  }
  return out;
}

describe('fuzz: codecs', () => {
  it('random, truncated and bit-flipped PDUs → only ProtocolError', () => {
    const r = rng(0xc0ffee);
    for (const pdu of validPdus()) {
      for (const o of OPTS) {
        for (let cut = 0; cut <= pdu.length; cut++)
          onlyTyped(() => decodePdu(pdu.subarray(0, cut), o), `truncated at ${cut}`);
        for (let i = 0; i < 2000; i++) {
          const m = Buffer.from(pdu);
          const flips = 1 + (r() % 4);
          for (let k = 0; k < flips; k++) m[r() % m.length]! ^= 1 << (r() % 8);
          onlyTyped(() => {
            const len = pduLength(m);
            if (len >= 0 && len <= m.length) decodePdu(m.subarray(0, len), o);
            else decodePdu(m, o);
          }, `bit flips of ${pdu[0]}`);
        }
      }
    }
    for (let i = 0; i < 20000; i++) {
      const len = r() % 200;
      const b = Buffer.alloc(len);
      for (let k = 0; k < len; k++) b[k] = r() & 0xff;
      if (len > 0 && r() % 2) b[0] = [0, 1, 2, 3, 4, 5, 6, 7, 9][r() % 9]!; // plausible types get past the first check
      if (len > 2 && r() % 2) b[2] = b[0] === 0 || b[0] === 1 ? 128 : b[0] === 4 ? 72 : 24;
      onlyTyped(() => decodePdu(b, OPTS[r() % 3]!), 'random bytes');
      onlyTyped(() => pduLength(b), 'random framing');
    }
  });

  it('random and corrupted log pages / identify data → only ProtocolError', () => {
    const r = rng(42);
    const log = encodeDiscoveryLog(
      7n,
      Array.from({ length: 4 }, (_, i) => ({ trsvcid: '4420', subnqn: `nqn.x:${i}`, traddr: '10.0.0.1' })),
    );
    for (let i = 0; i < 3000; i++) {
      const m = Buffer.from(log);
      for (let k = 0; k < 8; k++) m[r() % 64]! ^= 1 << (r() % 8); // header fields (NUMREC!)
      for (let k = 0; k < 8; k++) m[r() % m.length] = r() & 0xff;
      const cut = r() % 3 === 0 ? r() % m.length : m.length;
      onlyTyped(() => decodeDiscoveryLog(m.subarray(0, cut)), 'discovery log');
    }
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(r() % 5 === 0 ? r() % 4096 : 4096);
      for (let k = 0; k < 64; k++) b[r() % Math.max(b.length, 1)] = r() & 0xff;
      b[25] = r() & 0xff;
      b[26] = r() & 0xff;
      onlyTyped(() => parseIdentifyController(b), 'identify controller');
      onlyTyped(() => parseIdentifyNamespace(b), 'identify namespace');
      onlyTyped(() => parseNamespaceDescriptors(b), 'ns descriptors');
      onlyTyped(() => parseSupportedLogPages(b), 'supported log pages');
      onlyTyped(() => decodeCqe(b.subarray(0, r() % 20)), 'cqe');
      decodeAsyncEvent(r());
    }
  });
});

describe('fuzz: queue receive path', () => {
  it('garbage after a valid ICResp closes the queue with a typed error, never a hang or a throw', async () => {
    const r = rng(7);
    for (let round = 0; round < 40; round++) {
      const pdus = validPdus().slice(2);
      const garbage = Buffer.from(pdus[r() % pdus.length]!);
      for (let k = 0; k < 3; k++) garbage[r() % garbage.length]! ^= 1 << (r() % 8);
      const tail = Buffer.alloc(r() % 64);
      for (let k = 0; k < tail.length; k++) tail[k] = r() & 0xff;
      const server = net.createServer((s) => {
        s.on('error', () => undefined);
        s.once('data', () => {
          s.write(encodeIcResp({ hdgst: false, ddgst: false, maxh2cdata: 0x400000 }));
          s.once('data', () => {
            // reply to the command with junk, sliced at random points
            const all = Buffer.concat([garbage, tail]);
            let off = 0;
            while (off < all.length) {
              const n = 1 + (r() % 16);
              s.write(all.subarray(off, off + n));
              off += n;
            }
            s.end();
          });
        });
      });
      await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const q = await NvmeTcpQueue.open({ host: '127.0.0.1', port, commandTimeoutMs: 2000 });
        const closed = new Promise<NvmeTcpError>((res) => q.once('close', res));
        const outcome = await q.submit(identifyControllerCommand()).then(
          () => 'resolved',
          (e: unknown) => e,
        );
        if (outcome !== 'resolved') assert.ok(outcome instanceof NvmeTcpError, `round ${round}: ${String(outcome)}`);
        q.close();
        assert.ok((await closed) instanceof NvmeTcpError);
      } finally {
        await new Promise<void>((res) => server.close(() => res()));
      }
    }
  });
});
