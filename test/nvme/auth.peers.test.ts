// The userspace host's DH-HMAC-CHAP against the Linux target with authentication (nvmet, Debian 13's 6.12 in the
// VM harness): every hash with the null, ffdhe2048 and ffdhe4096 groups on the admin queue and an I/O queue; a
// wrong key refused by the controller; bidirectional authentication and a wrong controller key caught by the host;
// a key from nvme-cli's gen-dhchap-key; a new key on reconnect.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { ensureTargetVm, type TargetVm, type HostAuth } from '../harness/target-vm/index.js';
import { AdminSession, AuthenticationError, IoQueue, type SessionOptions } from '../../daemons/nvme/tcp/index.js';
import {
  formatDhchapSecret,
  generateDhchapSecret,
  parseDhchapSecret,
  type DhchapSecret,
} from '../../daemons/nvme/protocol/index.js';

const SUB = 'nqn.2024-01.io.stas.test:auth-userspace';
const HOSTID = '5a1d0c3e-7b2f-4e61-9d3a-0c8e2f6b4a12';
const HOST = `nqn.2014-08.org.nvmexpress:uuid:${HOSTID}`;
const T = 1_500_000; // first use fetches the 6.12 kernel and boots the VM

let vm: TargetVm;
before(
  async () => {
    vm = await ensureTargetVm({ kernel: '6.12', name: 'target-612' });
    if ((await vm.listSubsystems()).includes(SUB)) await vm.removeSubsystem(SUB); // left over by a killed run
    await vm.addSubsystem(SUB, { namespaces: 1, sizeMiB: 8 });
    await vm.linkSubsystem(SUB, 1);
  },
  { timeout: T },
);
after(async () => {
  await vm?.removeSubsystem(SUB).catch(() => undefined);
  await vm?.exec(`rmdir /sys/kernel/config/nvmet/hosts/${HOST}`).catch(() => undefined);
});

function opts(secret: DhchapSecret | undefined, ctrlSecret?: DhchapSecret): SessionOptions {
  return {
    host: vm.host,
    port: vm.ioPort,
    subnqn: SUB,
    hostnqn: HOST,
    hostid: HOSTID,
    // TCG: the target's modular exponentiation for ffdhe4096 takes seconds
    commandTimeoutMs: 60_000,
    ...(secret ? { dhchap: { secret, ...(ctrlSecret ? { ctrlSecret } : {}) } } : {}),
  };
}

async function targetKeys(auth: HostAuth): Promise<void> {
  if ((await vm.exec(`ls /sys/kernel/config/nvmet/subsystems/${SUB}/allowed_hosts`)).out.includes(HOST))
    await vm.setHostAuth(HOST, auth);
  else await vm.allowHost(SUB, HOST, auth);
}

/** Connect (admin queue authenticates), open an I/O queue (authenticates too), read a block. */
async function connectAndRead(o: SessionOptions): Promise<AdminSession> {
  const s = await AdminSession.connect(o);
  try {
    const q = await IoQueue.open(s, { qid: 1 });
    try {
      const { lbaSize } = await s.namespaceInfo(1);
      const b = await q.read({ nsid: 1, lbaSize }, 0, 1);
      assert.equal(b.length, lbaSize);
    } finally {
      q.close();
    }
    return s;
  } catch (e) {
    s.close();
    throw e;
  }
}

describe('userspace host DH-HMAC-CHAP against nvmet 6.12', { timeout: T }, () => {
  for (const hash of ['hmac(sha256)', 'hmac(sha384)', 'hmac(sha512)'] as const) {
    for (const dhgroup of ['null', 'ffdhe2048', 'ffdhe4096'] as const) {
      it(`${hash} with DH group ${dhgroup}: admin and I/O queue authenticate`, { timeout: 300_000 }, async () => {
        const nn = ({ 'hmac(sha256)': 1, 'hmac(sha384)': 2, 'hmac(sha512)': 3 } as const)[hash];
        const key = generateDhchapSecret(nn, { nqn: HOST });
        await targetKeys({ key: formatDhchapSecret(key), hash, dhgroup });
        const s = await connectAndRead(opts(key));
        try {
          assert.deepEqual(s.auth, { hash, dhgroup, bidirectional: false });
        } finally {
          s.close();
        }
      });
    }
  }

  it('a wrong key is refused by the controller (its Failure1 reason or its close)', { timeout: 300_000 }, async () => {
    await targetKeys({ key: formatDhchapSecret(generateDhchapSecret(0)), hash: 'hmac(sha256)', dhgroup: 'ffdhe2048' });
    await assert.rejects(AdminSession.connect(opts(generateDhchapSecret(0))), (e: unknown) => {
      assert.ok(e instanceof AuthenticationError, String(e));
      assert.equal(e.side, 'controller-refused');
      // nvmet sends Failure1 (authentication failed) and closes the association at once: the host reports the
      // reason when the message arrives before the close, the close otherwise
      assert.match(
        e.message,
        /DH-HMAC-CHAP authentication failed: the controller (refused: authentication failed|closed the connection during authentication \(it did not accept the key\))$/,
      );
      if (e.explanation !== undefined) assert.equal(e.explanation, 0x01);
      return true;
    });
    // no key at all: refused before any message, with the reason
    await assert.rejects(
      AdminSession.connect(opts(undefined)),
      /requires authentication and no dhchap-secret is configured/,
    );
  });

  it(
    'bidirectional: the controller proves its key; a wrong controller key is caught by the host',
    { timeout: 300_000 },
    async () => {
      const key = generateDhchapSecret(2, { nqn: HOST });
      const ctrlKey = generateDhchapSecret(3, { nqn: SUB });
      await vm.disallowHost(SUB, HOST); // a controller key cannot be cleared later: a fresh host entry for this case
      await targetKeys({
        key: formatDhchapSecret(key),
        ctrlKey: formatDhchapSecret(ctrlKey),
        hash: 'hmac(sha384)',
        dhgroup: 'ffdhe2048',
      });
      try {
        const s = await connectAndRead(opts(key, ctrlKey));
        assert.deepEqual(s.auth, { hash: 'hmac(sha384)', dhgroup: 'ffdhe2048', bidirectional: true });
        s.close();
        await assert.rejects(AdminSession.connect(opts(key, generateDhchapSecret(3))), (e: unknown) => {
          assert.ok(e instanceof AuthenticationError, String(e));
          assert.equal(e.side, 'controller-not-authenticated');
          assert.match(e.message, /does not match dhchap-ctrl-secret/);
          return true;
        });
      } finally {
        await vm.disallowHost(SUB, HOST);
      }
    },
  );

  it('a key made by nvme-cli gen-dhchap-key is accepted', { timeout: 300_000 }, async () => {
    const r = await execa('nvme', ['gen-dhchap-key', '--hmac=2', `--nqn=${HOST}`]);
    const text = r.stdout.trim();
    assert.match(text, /^DHHC-1:02:[A-Za-z0-9+/]{70}==:$/); // 48-byte key + CRC
    await targetKeys({ key: text, hash: 'hmac(sha512)', dhgroup: 'null' });
    const s = await AdminSession.connect(opts(parseDhchapSecret(text)));
    assert.equal(s.auth?.hash, 'hmac(sha512)');
    s.close();
  });

  it(
    'every new connection authenticates again: after a key change the old key is refused, the new one works',
    { timeout: 300_000 },
    async () => {
      const k1 = generateDhchapSecret(1);
      const k2 = generateDhchapSecret(1);
      await targetKeys({ key: formatDhchapSecret(k1), hash: 'hmac(sha256)', dhgroup: 'null' });
      const s1 = await AdminSession.connect(opts(k1));
      s1.close();
      await vm.setHostAuth(HOST, { key: formatDhchapSecret(k2), hash: 'hmac(sha256)', dhgroup: 'null' });
      await assert.rejects(AdminSession.connect(opts(k1)), AuthenticationError);
      const s2 = await AdminSession.connect(opts(k2));
      assert.ok(s2.auth);
      s2.close();
    },
  );
});
