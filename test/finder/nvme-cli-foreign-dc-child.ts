// Runs INSIDE the kernel-host VM (see nvme-cli-foreign-dc.peers.test.ts): a discovery controller made by hand with
// `nvme connect` (a persistent DC) (not stafd's), the real stafd with the kernel driver not configured for it, and a new
// subsystem linked to the in-VM nvmet port (a real discovery log change AEN on that DC, a real uevent). stafd must
// start nvme-cli's nvmf-connect@.service for it. systemd is not PID 1 in the VM, so a recording `systemctl` shim is
// put first on stafd's PATH (only systemctl is replaced; the uevent, the DC and nvmet are real). Prints one JSON line.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFinderRig, DISC_NQN, type FinderRig } from './rig.js';
import { printReport } from '../harness/target-vm/scenario.js';

const [traddr, trsvcid, portId, nqn] = process.argv.slice(2) as [string, string, string, string];
const result: Record<string, unknown> = {};
const work = mkdtempSync(join(tmpdir(), 'stas-foreign-dc-'));
const shimDir = join(work, 'bin');
const record = join(work, 'systemctl.calls');
const rulesDir = join(work, 'rules.d');
const link = `/sys/kernel/config/nvmet/ports/${portId}/subsystems/${nqn}`;
const controllers = (): string[] => readdirSync('/sys/class/nvme').filter((n) => /^nvme\d+$/.test(n));
let device: string | undefined;
let rig: FinderRig | undefined;
try {
  execFileSync('mkdir', ['-p', shimDir]);
  // one line per call: the arguments, tab-separated
  writeFileSync(join(shimDir, 'systemctl'), `#!/bin/sh\nIFS='\t'\nprintf '%s\\n' "$*" >> '${record}'\n`);
  chmodSync(join(shimDir, 'systemctl'), 0o755);

  const before = new Set(controllers());
  // nvme-cli 2.3's `nvme connect` has no --persistent (only discover/connect-all do, and they would also connect the
  // I/O subsystems): a connect to the well-known NQN with a keep-alive is the same persistent discovery controller
  execFileSync('nvme', ['connect', '-t', 'tcp', '-a', traddr, '-s', trsvcid, '-n', DISC_NQN, '--keep-alive-tmo=30'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  device = controllers().find((n) => !before.has(n));
  if (!device) throw new Error('nvme connect made no controller');
  result.device = device;

  rig = await startFinderRig({
    conf: '[Global]\n[Service Discovery]\nzeroconf=disabled\n',
    env: {
      STAS_FABRICS_DRIVER: 'kernel',
      STAS_UDEV_RULES_DIR: rulesDir,
      PATH: `${shimDir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
    },
    startTimeoutMs: 180_000,
  });
  await rig.stafd.waitForLog('ready on D-Bus', 60_000);
  result.ruleWritten = existsSync(join(rulesDir, '70-nvmf-autoconnect.rules'));
  result.managed = (await rig.listControllers(false)).length;

  const since = Date.now();
  symlinkSync(`/sys/kernel/config/nvmet/subsystems/${nqn}`, link);
  const deadline = Date.now() + 20_000;
  while (!existsSync(record) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // let a second (wrong) call show up too, if there were one
  await new Promise((r) => setTimeout(r, 1_000));
  result.latencyMs = Date.now() - since;
  result.calls = existsSync(record)
    ? readFileSync(record, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split('\t'))
    : [];
  result.logged = rig.stafd
    .output()
    .split('\n')
    .some((l) => l.includes(`nvme-cli coexistence: ${device} (not managed by stafd): discovery log page change`));
} catch (e) {
  result.error = (e as Error).message;
} finally {
  try {
    unlinkSync(link);
  } catch {
    // not linked
  }
  await rig?.stop().catch((e: unknown) => (result.stopError = (e as Error).message));
  result.ruleRemoved = !existsSync(join(rulesDir, '70-nvmf-autoconnect.rules'));
  if (device) {
    try {
      execFileSync('nvme', ['disconnect', '-d', device], { encoding: 'utf8', timeout: 30_000 });
    } catch (e) {
      result.disconnectError = (e as Error).message;
    }
  }
  rmSync(work, { recursive: true, force: true });
}
printReport(result);
process.exit(0);
