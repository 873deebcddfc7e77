// DH-HMAC-CHAP codec and computations, byte for byte: DHHC-1 secrets (vectors from nvme-cli's gen-dhchap-key),
// the key transformation, the messages and their decoders' named errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDiffieHellman, createHash, createHmac } from 'node:crypto';
import {
  AuthMsg,
  augmentChallenge,
  authReceiveCommand,
  authSendCommand,
  controllerResponse,
  decodeControllerMessage,
  dhExchange,
  DhchapKeyError,
  encodeFailure2,
  encodeNegotiate,
  encodeReply,
  encodeSuccess2,
  formatDhchapSecret,
  generateDhchapSecret,
  hostResponse,
  MalformedError,
  parseDhchapSecret,
  transformKey,
  TruncatedError,
  FFDHE_PRIMES,
} from '../../daemons/nvme/protocol/index.js';

const NQN1 = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001';
const K32 = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

test('DHHC-1 secrets: nvme-cli gen-dhchap-key vectors parse, format back and transform', () => {
  // nvme gen-dhchap-key -s <K32> -m 0
  const plain = 'DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:';
  const p = parseDhchapSecret(plain);
  assert.equal(p.hash, 0);
  assert.deepEqual(p.key, K32);
  assert.equal(formatDhchapSecret(p), plain);
  assert.deepEqual(transformKey(p, NQN1), K32); // NN 00: the key as is
  // nvme gen-dhchap-key -s <K32> -m 1 -n NQN1: the printed key is HMAC-SHA-256(K32, NQN1 || "NVMe-over-Fabrics")
  const t = parseDhchapSecret('DHHC-1:01:W3ij9Bv30F62wM2g61PP8Iv81nc+HbMS4QezUcHVkJHBfS4a:');
  assert.equal(t.hash, 1);
  assert.deepEqual(t.key, transformKey({ hash: 1, key: K32 }, NQN1));
  // -m 3 with a 64-byte secret
  const k64 = Buffer.concat([K32, K32]);
  const t3 = parseDhchapSecret(
    'DHHC-1:03:0HB8R8wY2JstxJI7uwcZgay5oM106SSWaplhpqpOOctHxVNLRMUxEnyPbwE43PpqadBN5etyH59nXfhEC7WCGF90LDk=:',
  );
  assert.deepEqual(t3.key, createHmac('sha512', k64).update(NQN1).update('NVMe-over-Fabrics').digest());
  assert.deepEqual(transformKey({ hash: 3, key: k64 }, NQN1), t3.key);
});

test('DHHC-1 secrets: malformed strings, wrong lengths, unknown hash ids and bad CRCs are named errors', () => {
  const cases: Array<[string, DhchapKeyError['reason']]> = [
    ['', 'format'],
    ['DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR', 'format'], // no final colon
    ['DHHC-2:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:', 'format'],
    ['DHHC-1:0:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:', 'format'],
    ['DHHC-1:04:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:', 'hash-id'],
    ['DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR=:', 'base64'],
    ['DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd:', 'length'], // 26 bytes
    ['DHHC-1:02:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:', 'length'], // SHA-384 needs 48
    ['DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaS:', 'crc'],
  ];
  for (const [s, reason] of cases) {
    assert.throws(
      () => parseDhchapSecret(s),
      (e: unknown) => {
        assert.ok(e instanceof DhchapKeyError, `${s}: ${String(e)}`);
        assert.equal(e.reason, reason, s);
        assert.ok(!e.message.includes('AAEC'), 'the error never repeats the secret');
        return true;
      },
    );
  }
});

test('generated secrets have the length of their hash and round-trip', () => {
  for (const hmac of [0, 1, 2, 3] as const) {
    const g = generateDhchapSecret(hmac, { nqn: NQN1 });
    assert.equal(g.key.length, [32, 32, 48, 64][hmac]);
    assert.deepEqual(parseDhchapSecret(formatDhchapSecret(g)), g);
  }
  assert.equal(generateDhchapSecret(0, { keyLength: 64 }).key.length, 64);
});

test('Authentication Send / Receive SQEs carry SECP E9h, SPSP 01h 01h and the lengths', () => {
  const msg = encodeSuccess2(7);
  const s = authSendCommand(msg);
  assert.equal(s.sqe[0], 0x7f);
  assert.equal(s.sqe[4], 0x05);
  assert.deepEqual([...s.sqe.subarray(40, 48)], [0, 1, 1, 0xe9, 16, 0, 0, 0]);
  assert.equal(s.write, msg);
  const r = authReceiveCommand(4096);
  assert.equal(r.sqe[4], 0x06);
  assert.deepEqual([...r.sqe.subarray(40, 48)], [0, 1, 1, 0xe9, 0, 0x10, 0, 0]);
  assert.equal(r.readLength, 4096);
});

test('AUTH_Negotiate, Reply, Success2 and Failure2 layouts', () => {
  const n = encodeNegotiate(0x1234, [1, 2, 3], [0, 1, 3]);
  assert.equal(n.length, 72);
  assert.deepEqual([...n.subarray(0, 12)], [0x00, 0x00, 0, 0, 0x34, 0x12, 0, 1, 0x01, 0, 3, 3]);
  assert.deepEqual([...n.subarray(12, 15)], [1, 2, 3]);
  assert.deepEqual([...n.subarray(42, 45)], [0, 1, 3]);
  const r1 = Buffer.alloc(32, 0xaa);
  const c2 = Buffer.alloc(32, 0xbb);
  const dh = Buffer.alloc(256, 0xcc);
  const rep = encodeReply({ tid: 5, response: r1, ctrlChallenge: c2, seqnum: 0x01020304, dhValue: dh });
  assert.equal(rep.length, 16 + 64 + 256);
  assert.deepEqual([...rep.subarray(0, 16)], [0x01, 0x02, 0, 0, 5, 0, 32, 0, 1, 0, 0x00, 0x01, 4, 3, 2, 1]);
  assert.deepEqual(rep.subarray(16, 48), r1);
  assert.deepEqual(rep.subarray(48, 80), c2);
  assert.deepEqual(rep.subarray(80), dh);
  const uni = encodeReply({ tid: 5, response: r1, seqnum: 99, dhValue: Buffer.alloc(0) });
  assert.equal(uni.length, 16 + 64);
  assert.equal(uni[8], 0); // CVALID
  assert.equal(uni.readUInt32LE(12), 0); // no S2 without a controller challenge
  assert.deepEqual(uni.subarray(48, 80), Buffer.alloc(32));
  assert.deepEqual([...encodeSuccess2(9)], [0x01, AuthMsg.Success2, 0, 0, 9, 0, ...Array(10).fill(0)]);
  assert.deepEqual([...encodeFailure2(9, 0x06)], [0x01, AuthMsg.Failure2, 0, 0, 9, 0, 0x01, 0x06]);
});

function challenge(f: {
  hl?: number;
  hash?: number;
  dh?: number;
  dhvlen?: number;
  len?: number;
  type?: number;
  id?: number;
}): Buffer {
  const hl = f.hl ?? 32;
  const dhvlen = f.dhvlen ?? 0;
  const b = Buffer.alloc(f.len ?? 16 + hl + dhvlen, 0x5a);
  b[0] = f.type ?? 0x01;
  b[1] = f.id ?? 0x01;
  b.writeUInt16LE(0, 2);
  b.writeUInt16LE(0x4321, 4);
  b[6] = hl;
  b[7] = 0;
  b[8] = f.hash ?? 1;
  b[9] = f.dh ?? 0;
  b.writeUInt16LE(dhvlen, 10);
  b.writeUInt32LE(77, 12);
  return b;
}

test('decoding the controller messages: challenge, success1, failure1', () => {
  const c = decodeControllerMessage(challenge({ hl: 48, hash: 2, dh: 1, dhvlen: 256 }));
  assert.equal(c.kind, 'challenge');
  if (c.kind !== 'challenge') return;
  assert.deepEqual(
    [c.tid, c.hashId, c.dhgroup, c.seqnum, c.challenge.length, c.dhValue.length],
    [0x4321, 2, 1, 77, 48, 256],
  );
  const s1 = Buffer.alloc(16 + 64);
  s1[0] = 1;
  s1[1] = 3;
  s1[6] = 64;
  s1[8] = 1;
  s1.fill(0x11, 16);
  const d = decodeControllerMessage(s1);
  assert.equal(d.kind, 'success1');
  assert.deepEqual(d.kind === 'success1' && d.response, Buffer.alloc(64, 0x11));
  const f1 = decodeControllerMessage(Buffer.from([0x01, 0xf1, 0, 0, 3, 0, 0x01, 0x01]));
  assert.deepEqual(f1, { kind: 'failure1', tid: 3, reasonCode: 1, explanation: 1 });
});

test('a malformed challenge is a named error naming the field', () => {
  const bad: Array<[Buffer, RegExp, new (...a: never[]) => Error]> = [
    [challenge({ hash: 9 }), /HASHID: unknown hash identifier 9/, MalformedError],
    [challenge({ hash: 3, hl: 32 }), /HL: 32 for hash 3 \(needs 64\)/, MalformedError],
    [challenge({ dh: 7 }), /DHGID: unknown DH group 7/, MalformedError],
    [challenge({ dh: 1, dhvlen: 100 }), /DHVLEN: 100 for ffdhe2048 \(needs 256\)/, MalformedError],
    [challenge({ dh: 1, dhvlen: 256, len: 100 }), /truncated, need 304 bytes, got 100/, TruncatedError],
    [challenge({ type: 0x07 }), /AUTH_Type: 0x7/, MalformedError],
    [challenge({ id: 0x02 }), /AUTH_Id: 0x2/, MalformedError],
    [Buffer.alloc(5), /truncated/, TruncatedError],
  ];
  for (const [b, re, cls] of bad)
    assert.throws(
      () => decodeControllerMessage(b),
      (e: unknown) => e instanceof cls && re.test((e as Error).message),
    );
  // a DH value of 1 or p-1 would force a known shared secret
  const one = Buffer.alloc(256);
  one[255] = 1;
  assert.throws(() => dhExchange(1, one), /DH value: outside 2\.\.p-2/);
  const pm1 = Buffer.from(FFDHE_PRIMES[2048], 'hex');
  pm1[255] = pm1[255]! - 1;
  assert.throws(() => dhExchange(1, pm1), /outside 2\.\.p-2/);
  assert.throws(() => dhExchange(1, Buffer.alloc(255, 1)), /255 bytes for ffdhe2048/);
});

test('the DH exchange agrees with the peer and pads values to the group size', () => {
  const peer = createDiffieHellman(Buffer.from(FFDHE_PRIMES[2048], 'hex'), 2);
  const peerPub = peer.generateKeys();
  const host = dhExchange(1, Buffer.concat([Buffer.alloc(256 - peerPub.length), peerPub]));
  assert.equal(host.publicValue.length, 256);
  assert.equal(host.sharedSecret.length, 256);
  const theirs = peer.computeSecret(host.publicValue);
  assert.deepEqual(Buffer.concat([Buffer.alloc(256 - theirs.length), theirs]), host.sharedSecret);
});

test('responses: R1 and R2 hash the fields in the specified order (fixed vector)', () => {
  const key = transformKey({ hash: 1, key: K32 }, NQN1);
  const c = Buffer.alloc(32, 0x01);
  const base = {
    hashId: 1 as const,
    key,
    challenge: c,
    seqnum: 0x11223344,
    tid: 0x5566,
    hostnqn: NQN1,
    subnqn: 'nqn.2024-01.io.example:s',
  };
  const manual = createHmac('sha256', key)
    .update(c)
    .update(Buffer.from([0x44, 0x33, 0x22, 0x11, 0x66, 0x55, 0]))
    .update('HostHost')
    .update(NQN1)
    .update(Buffer.from([0]))
    .update('nqn.2024-01.io.example:s')
    .digest();
  assert.deepEqual(hostResponse(base), manual);
  const manual2 = createHmac('sha256', key)
    .update(c)
    .update(Buffer.from([0x44, 0x33, 0x22, 0x11, 0x66, 0x55, 0]))
    .update('Controller')
    .update('nqn.2024-01.io.example:s')
    .update(Buffer.from([0]))
    .update(NQN1)
    .digest();
  assert.deepEqual(controllerResponse(base), manual2);
  // augmented challenge: HMAC(H(secret), C)
  const sec = Buffer.alloc(256, 7);
  const expected = createHmac('sha384', createHash('sha384').update(sec).digest()).update(Buffer.alloc(48, 3)).digest();
  assert.deepEqual(augmentChallenge(2, sec, Buffer.alloc(48, 3)), expected);
});
