// The systemd unit and stacd start the storage daemon with the same sockets: stacd finds the unit's daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../harness/repo.js';
import { daemonArgs, daemonPaths } from '../../daemons/volumes/storage-daemon/process.js';

test('stas-storage-daemon.service runs qemu-storage-daemon with the options and paths stacd uses', () => {
  const unit = readFileSync(join(repoRoot(), 'etc', 'systemd', 'stas-storage-daemon.service'), 'utf8');
  const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
  const [bin, ...args] = exec.split(' ');
  assert.equal(bin, '/usr/bin/qemu-storage-daemon');
  assert.deepEqual(args, daemonArgs(daemonPaths('/run/stacd/storage-daemon'), false));
  assert.match(unit, /^RuntimeDirectory=stacd\/storage-daemon$/m);
  const stacd = readFileSync(join(repoRoot(), 'etc', 'systemd', 'stacd.service'), 'utf8');
  assert.match(stacd, /^Wants=.*stas-storage-daemon\.service/m);
  assert.match(stacd, /^RuntimeDirectory=stacd$/m, 'stacd looks for the sockets under its own runtime directory');
});
