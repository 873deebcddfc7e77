// Runs INSIDE the 6.12 kernel-host VM (started by test/connector/kernel-auth.peers.test.ts), as root, against the
// VM's own nvmet target with per-host DH-HMAC-CHAP keys: stacd with the kernel driver connects an I/O controller
// whose dhchap-secret is a key file made by `stasadm gen-dhchap-key`; a wrong key is a named connect error logged
// once (no retry storm); a world-readable key file is refused with that reason. One JSON report on the last line.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { listControllers } from '../../../daemons/nvme/kernel/sysfs.js';
import { NvmetControl } from '../../harness/target-vm/nvmet.js';
import { startConnectorRig, waitFor } from '../rig.js';

const S1 = 'nqn.2024-01.io.example:subsys1';
const S2 = 'nqn.2024-01.io.example:subsys2';
const S3 = 'nqn.2024-01.io.example:subsys3';
const report: Record<string, unknown> = {};
const step = (k: string, v: unknown): void => {
  report[k] = v;
  process.stderr.write(`[scenario] ${k}: ${JSON.stringify(v)}\n`);
};
const ioDevices = async (nqn: string): Promise<string[]> =>
  (await listControllers()).filter((c) => c.subsysnqn === nqn && c.state !== 'deleting').map((c) => c.name);
const line = (n: string, key: string): string =>
  `controller=transport=tcp;traddr=127.0.0.1;trsvcid=4420;subsysnqn=${n};kato=10;ctrl-loss-tmo=60;dhchap-secret=${key}`;
const conf = (lines: string[]): string => `[Global]\n[Controllers]\n${lines.join('\n')}\n`;
const nvmet = new NvmetControl(async (cmd) => {
  const r = await execa('sh', ['-c', cmd], { reject: false, all: true, timeout: 30_000 });
  return { code: r.exitCode ?? 1, out: r.all ?? '' };
});
const stasadm = async (...args: string[]): Promise<string> =>
  (await execa('node', [join(process.cwd(), 'dist', 'ctl', 'stasadm.js'), ...args], { timeout: 60_000 })).stdout.trim();

const dir = mkdtempSync('/tmp/stas-auth-');
const rig = await startConnectorRig({
  stacdConf: conf([]),
  env: { STAS_FABRICS_DRIVER: 'kernel' },
  nameTimeoutMs: 180_000,
});
const hostnqn = rig.etc.hostnqn;
try {
  const key = await stasadm('gen-dhchap-key', '--hmac', '1', '--nqn', hostnqn);
  assert.match(key, /^DHHC-1:01:[A-Za-z0-9+/]{48}:$/);
  const keyFile = join(dir, 'host.key');
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  const wrongFile = join(dir, 'wrong.key');
  writeFileSync(wrongFile, `${await stasadm('gen-dhchap-key', '--hmac', '1', '--nqn', hostnqn)}\n`, { mode: 0o600 });
  const openFile = join(dir, 'open.key');
  writeFileSync(openFile, key);
  chmodSync(openFile, 0o644);
  for (const s of [S1, S2, S3]) await nvmet.allowHost(s, hostnqn, { key, hash: 'hmac(sha256)', dhgroup: 'ffdhe2048' });
  step('stasadmKey', key.slice(0, 10));

  const t0 = Date.now();
  rig.etc.write(
    'stacd.conf',
    conf([line(S1, `file:${keyFile}`), line(S2, `file:${wrongFile}`), line(S3, `file:${openFile}`)]),
  );
  rig.stacd.signal('SIGHUP');
  const d1 = await waitFor(
    'S1 connected with the stasadm key',
    async () => {
      const c = (await rig.list(true)).find((x) => x.subsysnqn === S1);
      return c?.connected === 'True' ? c.device : undefined;
    },
    120_000,
  );
  step('connected', { d1, ms: Date.now() - t0 });
  // the kernel holds the key the connection authenticated with
  assert.equal(readFileSync(`/sys/class/nvme/${d1}/dhchap_secret`, 'utf8').trim(), key);
  const out = await waitFor(
    'S2 and S3 failures logged',
    async () => {
      const o = rig.stacd.output();
      return /subsys2.*connect failed: .*authentication failed \(DH-HMAC-CHAP key rejected\) \[EKEYREJECTED\]/.test(
        o,
      ) && /subsys3.*connect failed: .*world-readable/.test(o)
        ? o
        : undefined;
    },
    200_000,
  );
  assert.deepEqual(await ioDevices(S2), [], 'no controller with the wrong key');
  assert.deepEqual(await ioDevices(S3), [], 'no controller from a world-readable key file');
  assert.ok(!out.includes(key.slice(10, 40)), 'the key never reaches the log');
  const list = await rig.list(true);
  step(
    's2',
    list.find((x) => x.subsysnqn === S2),
  );

  rig.etc.write('stacd.conf', conf([]));
  rig.stacd.signal('SIGHUP');
  await waitFor('S1 deleted', async () => ((await ioDevices(S1)).length === 0 ? true : undefined), 30_000);
  // by now the 3 s retry has failed the same way: the reason is logged once, retries go at the 60 s pace
  const fails = rig.stacd
    .output()
    .split('\n')
    .filter((l) => /subsys2.*connect failed/.test(l));
  assert.equal(fails.length, 1, fails.join('\n'));
  step('failure', fails[0]);
  step('elapsedMs', Date.now() - t0);
  console.log(JSON.stringify({ ok: true, ...report }));
} catch (e) {
  const dmesg = (await execa('sh', ['-c', 'dmesg | tail -20'], { reject: false })).stdout;
  console.log(
    JSON.stringify({ ok: false, error: (e as Error).message, ...report, dmesg, log: rig.stacd.output().slice(-3000) }),
  );
  process.exitCode = 1;
} finally {
  await rig.stop();
  for (const s of [S1, S2, S3]) {
    for (const d of await ioDevices(s)) await execa('nvme', ['disconnect', '-d', d], { reject: false });
    await nvmet.disallowHost(s, hostnqn).catch(() => undefined);
  }
  rmSync(dir, { recursive: true, force: true });
}
