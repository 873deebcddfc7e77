// stasadm gen-dhchap-key: keys in the DHHC-1 form that parse back, with the length of their hash; bad options named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { genDhchapKey } from '../../ctl/stasadm/gen-dhchap-key.js';
import { parseDhchapSecret } from '../../daemons/nvme/protocol/index.js';

test('gen-dhchap-key prints parseable DHHC-1 keys of the right length', () => {
  for (const [hmac, len] of [
    ['0', 32],
    ['1', 32],
    ['2', 48],
    ['3', 64],
  ] as const) {
    const k = genDhchapKey({ hmac, nqn: 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001' });
    assert.match(k, new RegExp(`^DHHC-1:0${hmac}:`));
    assert.equal(parseDhchapSecret(k).key.length, len);
  }
  assert.equal(parseDhchapSecret(genDhchapKey({ hmac: '0', keyLength: '64' })).key.length, 64);
  assert.notEqual(genDhchapKey({ hmac: '1' }), genDhchapKey({ hmac: '1' }));
});

test('gen-dhchap-key names bad options', () => {
  assert.throws(() => genDhchapKey({ hmac: '4' }), /--hmac 4: must be 0 \(none\), 1 \(SHA-256\)/);
  assert.throws(() => genDhchapKey({ hmac: '0', keyLength: '40' }), /--key-length 40: must be 32, 48 or 64/);
  assert.throws(() => genDhchapKey({ hmac: '2', keyLength: '32' }), /--hmac 2 makes 48-byte keys/);
  assert.throws(() => genDhchapKey({ hmac: '1', nqn: 'host1' }), /--nqn host1: not an NQN/);
});
