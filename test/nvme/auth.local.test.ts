// DH-HMAC-CHAP in the userspace host against a scripted fake target: a controller that sends malformed or
// unexpected authentication messages gets AUTH_Failure2 and the caller a named AuthenticationError (no crash, no
// hang); a controller that asks for authentication from a host without a key is refused the same way. And the
// dhchap-secret / dhchap-ctrl-secret values: a key or file:PATH, world-readable key files refused.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminSession, AuthenticationError } from '../../daemons/nvme/tcp/index.js';
import { AuthMsg, generateDhchapSecret, formatDhchapSecret } from '../../daemons/nvme/protocol/index.js';
import { DhchapKeyRefError, resolveDhchapKeys, resolveDhchapSecret } from '../../daemons/common/dhchap-keys.js';
import { opts, target } from './fake-sessions.js';

const KEY = generateDhchapSecret(1);

/** A challenge whose transaction ID the host cannot know in advance: the fake answers whatever it is sent. */
function challenge(f: { hash?: number; hl?: number; dh?: number; dhvlen?: number; type?: number }): Buffer {
  const hl = f.hl ?? 32;
  const b = Buffer.alloc(16 + hl + (f.dhvlen ?? 0), 0x33);
  b[0] = f.type ?? 1;
  b[1] = AuthMsg.Challenge;
  b.writeUInt16LE(0, 2);
  b[6] = hl;
  b[7] = 0;
  b[8] = f.hash ?? 1;
  b[9] = f.dh ?? 0;
  b.writeUInt16LE(f.dhvlen ?? 0, 10);
  return b;
}

describe('DH-HMAC-CHAP against a scripted controller', () => {
  const cases: Array<[string, Buffer[], RegExp]> = [
    [
      'unknown hash identifier',
      [challenge({ hash: 9 })],
      /malformed controller message: .*HASHID: unknown hash identifier 9/,
    ],
    ['HL that does not fit the hash', [challenge({ hash: 2, hl: 32 })], /HL: 32 for hash 2/],
    ['DH value of the wrong length', [challenge({ dh: 1, dhvlen: 16 })], /DHVLEN: 16 for ffdhe2048/],
    ['wrong AUTH_Type', [challenge({ type: 9 })], /AUTH_Type: 0x9/],
    ['all zeros (no message)', [], /AUTH_Id: 0x0|AUTH_Type: 0x0/],
  ];
  for (const [name, msgs, re] of cases) {
    it(`a challenge with ${name} is a named error and the host answers AUTH_Failure2`, async () => {
      const t = await target({ authMessages: msgs });
      await assert.rejects(AdminSession.connect(opts(t, { dhchap: { secret: KEY } })), (e: unknown) => {
        assert.ok(e instanceof AuthenticationError, String(e));
        assert.equal(e.kind, 'auth');
        assert.equal(e.side, 'malformed');
        assert.match(e.message, re);
        return true;
      });
      const sent = t.stats.authSent.map((m) => m[1]);
      assert.deepEqual(sent, [AuthMsg.Negotiate, AuthMsg.Failure2]);
      assert.equal(t.stats.authSent[1]![7], 0x06, 'explanation: incorrect payload');
    });
  }

  it("a transaction ID that is not the host's is refused", async () => {
    const c = challenge({});
    c.writeUInt16LE(0xffff, 4);
    const t = await target({ authMessages: [c] });
    // the host picks its TID; one in 65536 runs it could be 0xffff, so compare with what the host sent
    await assert.rejects(AdminSession.connect(opts(t, { dhchap: { secret: KEY } })), (e: unknown) => {
      const tid = t.stats.authSent[0]!.readUInt16LE(4);
      if (tid === 0xffff) return true;
      return e instanceof AuthenticationError && /transaction ID 65535, expected/.test(e.message);
    });
  });

  it('a controller that asks for authentication from a host without a key: named error', async () => {
    const t = await target({ authMessages: [challenge({})] });
    await assert.rejects(
      AdminSession.connect(opts(t)),
      (e: unknown) =>
        e instanceof AuthenticationError && e.side === 'no-secret' && /no dhchap-secret is configured/.test(e.message),
    );
    assert.equal(t.stats.authSent.length, 0);
  });

  it('a Failure1 from the controller names its reason', async () => {
    const f1 = Buffer.from([0x01, AuthMsg.Failure1, 0, 0, 0, 0, 0x01, 0x05]);
    const t = await target({ authMessages: [f1] });
    await assert.rejects(
      AdminSession.connect(opts(t, { dhchap: { secret: KEY } })),
      (e: unknown) =>
        e instanceof AuthenticationError &&
        e.side === 'controller-refused' &&
        e.explanation === 5 &&
        /DH group not usable/.test(e.message),
    );
  });
});

describe('dhchap-secret values: a key or file:PATH', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stas-dhchap-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const text = formatDhchapSecret(KEY);

  it('a key is taken as is; file:PATH reads the file (mode 0600 / 0640)', () => {
    assert.equal(resolveDhchapSecret('dhchap-secret', text), text);
    const f = join(dir, 'host.key');
    writeFileSync(f, `${text}\n`, { mode: 0o600 });
    chmodSync(f, 0o640);
    assert.equal(resolveDhchapSecret('dhchap-secret', `file:${f}`), text);
    const keys = resolveDhchapKeys(`file:${f}`, text);
    assert.deepEqual(keys?.secret.key, KEY.key);
    assert.deepEqual(keys?.ctrlSecret?.key, KEY.key);
  });

  it('a world-readable key file is refused with that reason, naming option and file, never the key', () => {
    const f = join(dir, 'open.key');
    writeFileSync(f, text);
    chmodSync(f, 0o644);
    assert.throws(
      () => resolveDhchapSecret('dhchap-ctrl-secret', `file:${f}`),
      (e: unknown) => {
        assert.ok(e instanceof DhchapKeyRefError);
        assert.equal(e.reason, 'world-readable');
        assert.match(e.message, new RegExp(`^dhchap-ctrl-secret: key file ${f} is world-readable \\(mode 644\\)`));
        assert.ok(!e.message.includes(text.slice(10, 30)));
        return true;
      },
    );
  });

  it('missing files, bad keys and a controller key alone are named errors', () => {
    assert.throws(
      () => resolveDhchapSecret('dhchap-secret', `file:${join(dir, 'nope')}`),
      /dhchap-secret: cannot read key file .*nope: ENOENT/,
    );
    const f = join(dir, 'bad.key');
    writeFileSync(f, 'DHHC-1:09:AAAA:', { mode: 0o600 });
    assert.throws(
      () => resolveDhchapSecret('dhchap-secret', `file:${f}`),
      /dhchap-secret: invalid DH-HMAC-CHAP secret: unknown hash identifier 09.*\(in .*bad\.key\)/,
    );
    assert.throws(
      () => resolveDhchapSecret('dhchap-secret', 'secret'),
      (e: unknown) => e instanceof DhchapKeyRefError && e.reason === 'invalid',
    );
    assert.throws(() => resolveDhchapKeys(undefined, text), /dhchap-ctrl-secret: set without dhchap-secret/);
    assert.equal(resolveDhchapKeys(undefined, undefined), undefined);
  });
});
