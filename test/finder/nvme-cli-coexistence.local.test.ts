// nvme-cli coexistence (nvme-stas §4.9), host side: the real stafd with the kernel driver installs the udev override
// that shadows nvme-cli's 70-nvmf-autoconnect.rules (only the legacy FC rule, systemd-escaped) at start and removes
// it when it exits; a file already there is left alone, also at exit. The rules directory is a temporary one
// (STAS_UDEV_RULES_DIR), not the machine's /run/udev/rules.d. With the userspace driver nothing is written.
// The foreign-DC rediscover half runs against the real kernel in nvme-cli-foreign-dc.peers.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFinderRig } from './rig.js';
import { nvmfConnectUnit, overrideRuleText } from '../../daemons/finder/nvme-cli-coexistence.js';

const CONF = '[Global]\n[Service Discovery]\nzeroconf=disabled\n';
const RULE = '70-nvmf-autoconnect.rules';

async function withRulesDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stas-udev-rules-'));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('kernel driver: the override rule is written at start (FC rule only, systemd-escaped) and removed at exit', async () => {
  await withRulesDir(async (dir) => {
    const rig = await startFinderRig({ conf: CONF, env: { STAS_FABRICS_DRIVER: 'kernel', STAS_UDEV_RULES_DIR: dir } });
    let stopped = false;
    try {
      await rig.stafd.waitForLog('installed udev override', 15_000);
      const text = readFileSync(join(dir, RULE), 'utf8');
      assert.equal(text, overrideRuleText());
      const rules = text
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .join('\n');
      assert.match(rules, /^ACTION=="change", SUBSYSTEM=="fc", ENV\{FC_EVENT\}=="nvmediscovery"/);
      assert.doesNotMatch(rules, /SUBSYSTEM=="nvme"/, "nvme-cli's nvme rules are shadowed, not copied");
      assert.ok(
        rules.includes(
          'restart nvmf-connect@--device\\x3dnone\\x09--transport\\x3dfc\\x09--traddr\\x3d$env{NVMEFC_TRADDR}\\x09--trsvcid\\x3dnone\\x09--host-traddr\\x3d$env{NVMEFC_HOST_TRADDR}.service"',
        ),
        rules,
      );
      assert.deepEqual(readdirSync(dir), [RULE], 'no temp file left behind (atomic write)');
      stopped = true;
      await rig.stop();
      assert.equal(existsSync(join(dir, RULE)), false, 'removed at exit');
      assert.match(rig.stafd.output(), /removed udev override/);
    } finally {
      if (!stopped) await rig.stop();
    }
  });
});

test('kernel driver: an override already present is kept as it is, also at exit', async () => {
  await withRulesDir(async (dir) => {
    const mine = "# the administrator's own rule\n";
    writeFileSync(join(dir, RULE), mine);
    const rig = await startFinderRig({ conf: CONF, env: { STAS_FABRICS_DRIVER: 'kernel', STAS_UDEV_RULES_DIR: dir } });
    let stopped = false;
    try {
      await rig.stafd.waitForLog('already exists; left as it is', 15_000);
      assert.equal(readFileSync(join(dir, RULE), 'utf8'), mine);
      stopped = true;
      await rig.stop();
      assert.equal(readFileSync(join(dir, RULE), 'utf8'), mine, 'not ours: not removed');
    } finally {
      if (!stopped) await rig.stop();
    }
  });
});

test('kernel driver: an unwritable rules directory is logged, stafd keeps running', async () => {
  await withRulesDir(async (dir) => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    const rig = await startFinderRig({ conf: CONF, env: { STAS_FABRICS_DRIVER: 'kernel', STAS_UDEV_RULES_DIR: file } });
    try {
      await rig.stafd.waitForLog('cannot write udev override', 15_000);
      await rig.stafd.waitForLog('ready on D-Bus', 15_000);
      assert.deepEqual(await rig.listControllers(false), []);
    } finally {
      await rig.stop();
    }
  });
});

test("userspace driver: no override (it does not replace nvme-cli's connections)", async () => {
  await withRulesDir(async (dir) => {
    const rig = await startFinderRig({
      conf: CONF,
      env: { STAS_FABRICS_DRIVER: 'userspace', STAS_UDEV_RULES_DIR: dir },
    });
    try {
      await rig.stafd.waitForLog('ready on D-Bus', 15_000);
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      await rig.stop();
    }
  });
});

test('the nvmf-connect@ unit of a foreign DC event: --device, host-traddr/host-iface unless none/empty, escaped', () => {
  assert.equal(
    nvmfConnectUnit('nvme3', { NVME_HOST_TRADDR: 'none', NVME_HOST_IFACE: 'none' }),
    'nvmf-connect@--device\\x3dnvme3.service',
  );
  assert.equal(
    nvmfConnectUnit('nvme3', { NVME_HOST_TRADDR: '', NVME_HOST_IFACE: '' }),
    'nvmf-connect@--device\\x3dnvme3.service',
  );
  assert.equal(
    nvmfConnectUnit('nvme0', { NVME_HOST_TRADDR: '192.168.1.2', NVME_HOST_IFACE: 'eth0' }),
    'nvmf-connect@--device\\x3dnvme0\\x09--host-traddr\\x3d192.168.1.2\\x09--host-iface\\x3deth0.service',
  );
  assert.equal(
    nvmfConnectUnit('nvme1', { NVME_HOST_IFACE: 'eth1' }),
    'nvmf-connect@--device\\x3dnvme1\\x09--host-iface\\x3deth1.service',
  );
});
