import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, describeChanges, loadServiceConfig, reloadServiceConfig } from '../../daemons/config/index.js';
import { tempDir, write } from './helpers.js';

test('reload lists the changed options (secrets masked) and returns the new configuration', async () => {
  const d = tempDir();
  const p = write(
    join(d, 'stafd.conf'),
    '[Global]\nkato = 30\n[Controllers]\ncontroller = transport=tcp;traddr=1.1.1.1\nexclude = traddr=9.9.9.9\n',
  );
  const { config: old } = loadServiceConfig('stafd', p);
  write(
    p,
    '[Global]\nkato = 17\nip-family = ipv6\n[Service Discovery]\nzeroconf = disabled\n[Controllers]\ncontroller = transport=tcp;traddr=2.2.2.2;dhchap-secret=DHHC-1:00:topsecret:\nexclude = traddr=9.9.9.9\n',
  );
  const r = await reloadServiceConfig(old);
  assert.ok(r.ok);
  assert.equal(r.config.kato, 17);
  assert.deepEqual(r.changes, [
    '[Global] kato: 30 -> 17',
    '[Global] ip-family: ipv4+ipv6 -> ipv6',
    '[Service Discovery] zeroconf: true -> false',
    '[Controllers] controller removed: transport=tcp;traddr=1.1.1.1',
    '[Controllers] controller added: transport=tcp;traddr=2.2.2.2;dhchap-secret=<redacted>',
  ]);
  assert.deepEqual(describeChanges(r.config, r.config), []);
});

test('a reload that cannot read the file keeps the running configuration and says why', async () => {
  const d = tempDir();
  const p = write(join(d, 'stacd.conf'), '[Global]\nkato = 5\n');
  const { config: running } = loadServiceConfig('stacd', p);
  rmSync(p);
  mkdirSync(p);
  const r = await reloadServiceConfig(running);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.ok(r.error instanceof ConfigError);
    assert.equal(r.error.message, `Cannot read configuration file ${p}: is a directory`);
  }
  assert.equal(running.kato, 5, 'the caller still has its configuration');
  // a file that disappears is not an error: nvme-stas semantics, back to defaults
  rmSync(p, { recursive: true });
  const gone = await reloadServiceConfig(running);
  assert.ok(gone.ok);
  assert.deepEqual(gone.changes, ['[Global] kato: 5 -> none']);
});
