// meson setup/compile/install lays out every file a distribution package needs, and the installed
// wrappers run the installed JavaScript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../harness/repo.js';

test('meson setup, compile and DESTDIR install lay out the files', { timeout: 300_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'stas-meson-'));
  const build = join(work, 'build');
  const dest = join(work, 'dest');
  try {
    const opts = { cwd: repoRoot(), stdio: 'pipe' as const, timeout: 240_000 };
    execFileSync('meson', ['setup', build, '--prefix=/usr', '--sysconfdir=/etc'], opts);
    execFileSync('meson', ['compile', '-C', build], opts);
    execFileSync('meson', ['install', '-C', build, '--destdir', dest], opts);
    const expect = [
      'usr/bin/stafd',
      'usr/bin/stacd',
      'usr/bin/stafctl',
      'usr/bin/stacctl',
      'usr/bin/stasadm',
      'usr/share/dbus-1/interfaces/org.nvmexpress.staf.xml',
      'usr/share/dbus-1/interfaces/org.nvmexpress.stac.xml',
      'usr/share/dbus-1/system.d/org.nvmexpress.staf.conf',
      'usr/share/dbus-1/system.d/org.nvmexpress.stac.conf',
      'usr/lib/systemd/system/stafd.service',
      'usr/lib/systemd/system/stacd.service',
      'etc/stas/stafd.conf',
      'etc/stas/stacd.conf',
      'etc/stas/sys.conf.doc',
      'usr/lib/stas/daemons/stafd.js',
      'usr/lib/stas/daemons/stacd.js',
      'usr/lib/stas/ctl/stafctl.js',
      'usr/lib/stas/node_modules/dbus-next/package.json',
    ];
    const libdirs = ['usr/lib', 'usr/lib/x86_64-linux-gnu'];
    for (const f of expect) {
      const candidates = f.startsWith('usr/lib/stas/')
        ? libdirs.map((l) => join(dest, f.replace('usr/lib', l)))
        : [join(dest, f)];
      assert.ok(
        candidates.some((c) => existsSync(c)),
        `missing ${f}`,
      );
    }
    assert.ok((statSync(join(dest, 'usr/bin/stafctl')).mode & 0o111) !== 0, 'wrappers are executable');
    const unit = readFileSync(join(dest, 'usr/lib/systemd/system/stafd.service'), 'utf8');
    assert.match(unit, /^Type=dbus$/m);
    assert.match(unit, /^BusName=org\.nvmexpress\.staf$/m);
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    assert.match(unit, /^ExecStart=\/usr\/bin\/stafd --syslog$/m);
    // the installed wrapper runs the installed code (it points into /usr/lib/stas, so run the JS directly from DESTDIR)
    const libdir = libdirs.map((l) => join(dest, l, 'stas')).find((d) => existsSync(d))!;
    const v = spawnSync(process.execPath, [join(libdir, 'ctl', 'stafctl.js'), '--version'], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /^stas \d+\.\d+\.\d+/);
    assert.equal(
      readFileSync(join(dest, 'usr/share/dbus-1/interfaces/org.nvmexpress.staf.xml'), 'utf8'),
      readFileSync(join(repoRoot(), 'dbus-interfaces/org.nvmexpress.staf.xml'), 'utf8'),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
