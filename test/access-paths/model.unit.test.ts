// Access path input rules: ports, NQNs, names, NSIDs, key files (missing, world-readable, not a secret).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parsePort,
  validateNqn,
  defaultNqn,
  nextNsid,
  validateAccessPathName,
  type AccessPath,
} from '../../daemons/access-paths/model.js';
import { readKeyFile } from '../../daemons/access-paths/keys.js';

describe('access path model', () => {
  it('parses tcp ports, IPv6 in brackets, and names what is wrong', () => {
    assert.deepEqual(parsePort('tcp:10.0.0.1:4420'), {
      trtype: 'tcp',
      adrfam: 'ipv4',
      traddr: '10.0.0.1',
      trsvcid: '4420',
    });
    assert.deepEqual(parsePort('tcp:[fd00::1]:8009'), {
      trtype: 'tcp',
      adrfam: 'ipv6',
      traddr: 'fd00::1',
      trsvcid: '8009',
    });
    assert.throws(() => parsePort('rdma:10.0.0.1:4420'), /transport "rdma" is not supported/);
    assert.throws(() => parsePort('tcp:host.example:4420'), /"host\.example" is not an IP address/);
    assert.throws(() => parsePort('tcp:10.0.0.1:70000'), /service id 70000 is not in 1-65535/);
    assert.throws(() => parsePort('10.0.0.1:4420'), /expected tcp:ADDRESS:PORT/);
    assert.throws(() => parsePort('tcp:[10.0.0.1]:4420'), /IPv6 address goes in brackets/);
  });

  it('accepts NQNs and refuses what is not one (or cannot be a configfs name)', () => {
    assert.equal(
      validateNqn('nqn.2014-08.org.nvmexpress:uuid:5a1e0011-0000-4000-8000-000000000001'),
      'nqn.2014-08.org.nvmexpress:uuid:5a1e0011-0000-4000-8000-000000000001',
    );
    assert.equal(validateNqn('nqn.2024-01.com.example:host-1'), 'nqn.2024-01.com.example:host-1');
    for (const bad of [
      'host-1',
      'nqn.2024-13.com.example:x',
      'nqn.2024-01.com.example',
      'nqn.2024-01.com.example:a/b',
      'nqn.2024-01.com.example:a b',
      `nqn.2024-01.com.example:${'x'.repeat(220)}`,
    ])
      assert.throws(
        () => validateNqn(bad, 'host NQN'),
        (e: Error & { code?: string }) => e.code === 'InvalidArgument' && e.message.startsWith('host NQN: '),
        bad,
      );
    assert.throws(() => validateNqn('nqn.2014-08.org.nvmexpress.discovery'), /discovery NQN/);
  });

  it('default NQNs are valid, stable and differ per appliance', () => {
    const a = defaultNqn('web', 'nqn.2014-08.org.nvmexpress:uuid:1');
    assert.equal(validateNqn(a), a);
    assert.equal(defaultNqn('web', 'nqn.2014-08.org.nvmexpress:uuid:1'), a);
    assert.notEqual(defaultNqn('web', 'nqn.2014-08.org.nvmexpress:uuid:2'), a);
    assert.throws(() => validateAccessPathName('a/b'), /access path name/);
  });

  it('the next NSID fills the first gap', () => {
    const ap: AccessPath = {
      name: 'a',
      nqn: 'nqn.2024-01.x.y:a',
      ports: [],
      hosts: [],
      created: 0,
      volumes: [
        { nsid: 1, volume: 'v1', key: 'p/1' },
        { nsid: 3, volume: 'v3', key: 'p/3' },
      ],
    };
    assert.equal(nextNsid(ap), 2);
  });
});

describe('DH-HMAC-CHAP key files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stas-keys-'));
  const secret = 'DHHC-1:00:ia6zGodOr5SEG14W3sWJIlZ3TTM+7yxl6hVF2pGzOXtgSHvP:';
  it('are read when private and well-formed; refused by name otherwise', async () => {
    const f = join(dir, 'k');
    await assert.rejects(
      readKeyFile(f),
      (e: Error & { code?: string }) => e.code === 'NotFound' && e.message === `key file ${f}: missing`,
    );
    writeFileSync(f, `${secret}\n`);
    chmodSync(f, 0o640);
    await assert.rejects(readKeyFile(f), /readable or writable by group\/others \(mode 0640\); chmod 600 it/);
    chmodSync(f, 0o600);
    assert.equal(await readKeyFile(f), secret);
    writeFileSync(f, 'not a key\n');
    await assert.rejects(readKeyFile(f), /not a DH-HMAC-CHAP secret/);
    await assert.rejects(readKeyFile('relative.key'), /give an absolute path/);
    rmSync(dir, { recursive: true, force: true });
  });
});
