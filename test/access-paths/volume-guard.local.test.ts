// A volume exported through an access path: delete, shrink and rollback are refused with the consequence
// spelled out, unless forced (qcow2 pool, real qemu-img).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { openQcow2, succeeded } from '../volumes/helpers.js';

it('delete, shrink and rollback of an exported volume need force', { timeout: 300_000 }, async () => {
  const f = await openQcow2();
  try {
    await f.service.createVolume({ name: 'v1', size: 64 << 20 });
    await f.service.createVolume({ name: 'v2', size: 64 << 20 });
    await f.service.createSnapshot('v1', 's1');
    f.service.setExportCheck((v) => (v === 'v1' || v === 'v2' ? ['ap1'] : []));
    const busy =
      (what: RegExp, v = 'v1') =>
      (e: Error & { code?: string }) =>
        e.code === 'Busy' &&
        e.message.includes(`volume "${v}" is exported through access path(s) ap1`) &&
        what.test(e.message);
    await assert.rejects(
      f.service.deleteVolume('v2', false),
      busy(/deleting it takes it away from the hosts using it/, 'v2'),
    );
    await assert.rejects(
      f.service.resize('v1', 32 << 20, true),
      busy(/shrinking it cuts off data the hosts address; remove it from the access path\(s\) first, or force it/),
    );
    await assert.rejects(f.service.rollback('v1', 's1'), busy(/a rollback replaces the data under the hosts using it/));
    assert.equal((await f.service.getVolume('v1')).size, 64 << 20, 'nothing changed');
    await succeeded(await f.service.resize('v1', 32 << 20, true, true));
    assert.equal((await f.service.getVolume('v1')).size, 32 << 20);
    await succeeded(await f.service.rollback('v1', 's1', true));
    await succeeded(await f.service.deleteVolume('v2', true));
    assert.equal(await f.service.findVolume('v2'), null);
  } finally {
    await f.cleanup();
  }
});
