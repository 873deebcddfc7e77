// Living next to nvme-cli (nvme-stas §4.9), kernel driver only. nvme-cli's udev rule
// (/usr/lib/udev/rules.d/70-nvmf-autoconnect.rules) runs `nvme connect-all` on every discovery log change of every
// discovery controller, including stafd's own — two programs would then fight over the same connections. stafd
// shadows it with a rule of the same name in /run/udev/rules.d that keeps only nvme-cli's legacy FC rule, and does
// the log-change/rediscover handling itself for the discovery controllers it does NOT own (a DC made by hand with
// `nvme connect --persistent`): it starts nvme-cli's nvmf-connect@.service for them, as nvme-cli's rule would have.
//
// STAS_UDEV_RULES_DIR overrides the rules directory (default /run/udev/rules.d), for tests that run without root
// or must not touch the machine's udev configuration.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { log } from '../common/log.js';
import { writeFileDurable, unlinkDurable } from '../common/durable-file.js';
import { isDiscoveryCandidate, readController } from '../nvme/kernel/index.js';
import { isDiscoveryLogChange, ueventDeviceName, type Uevent } from '../udev/index.js';

export const UDEV_RULES_DIR_ENV = 'STAS_UDEV_RULES_DIR';
export const DEFAULT_UDEV_RULES_DIR = '/run/udev/rules.d';
export const OVERRIDE_RULE_NAME = '70-nvmf-autoconnect.rules';
const SYSTEMCTL_TIMEOUT_MS = 10_000;

/** Where the override rule goes: $STAS_UDEV_RULES_DIR, else /run/udev/rules.d. */
export function udevRulesDir(env: NodeJS.ProcessEnv = process.env): string {
  const d = env[UDEV_RULES_DIR_ENV];
  return d && d.trim() !== '' ? d : DEFAULT_UDEV_RULES_DIR;
}

/**
 * The override: nvme-cli's legacy FC rule only (FC transport events are not stafd's business). The instance name is
 * systemd-escaped (`=` → `\x3d`, tab → `\x09`): udev passes a plain "..." value through with its backslashes, and
 * systemd unescapes the instance into nvmf-connect@.service's tab-separated `nvme connect-all` arguments.
 */
export function overrideRuleText(systemctl = '/usr/bin/systemctl'): string {
  return [
    "# Written by stafd (stas) at start, removed when it exits: shadows nvme-cli's rule of the same name in",
    '# /usr/lib/udev/rules.d so that nvme-cli does not act on the discovery controllers stafd manages.',
    '# stafd itself starts nvmf-connect@.service for discovery controllers it does not manage.',
    '# Only the legacy nvme-fc transport rule is kept.',
    'ACTION=="change", SUBSYSTEM=="fc", ENV{FC_EVENT}=="nvmediscovery", \\',
    '  ENV{NVMEFC_HOST_TRADDR}=="*", ENV{NVMEFC_TRADDR}=="*", \\',
    `  RUN+="${systemctl} --no-block restart nvmf-connect@--device\\x3dnone\\x09--transport\\x3dfc\\x09--traddr\\x3d$env{NVMEFC_TRADDR}\\x09--trsvcid\\x3dnone\\x09--host-traddr\\x3d$env{NVMEFC_HOST_TRADDR}.service"`,
    '',
  ].join('\n');
}

/** systemd escaping of one instance-name piece, as nvme-stas does it: only `=` and tab. */
function escapeInstance(s: string): string {
  return s.replace(/=/g, '\\x3d').replace(/\t/g, '\\x09');
}

/**
 * The nvmf-connect@ unit for a foreign DC's event: `--device=<nvmeN>` plus `--host-traddr=` and `--host-iface=` when
 * the uevent carries them (not empty, not `none`), tab-joined and escaped.
 */
export function nvmfConnectUnit(device: string, props: Readonly<Record<string, string>>): string {
  const opts: [string, string | undefined][] = [
    ['--device', device],
    ['--host-traddr', props['NVME_HOST_TRADDR']],
    ['--host-iface', props['NVME_HOST_IFACE']],
  ];
  const text = opts
    .filter((o): o is [string, string] => o[1] !== undefined && o[1] !== '' && o[1] !== 'none')
    .map(([k, v]) => `${k}=${v}`)
    .join('\t');
  return `nvmf-connect@${escapeInstance(text)}.service`;
}

/** A `change` uevent nvme-cli's rule would have acted on: discovery log change AEN, or NVME_EVENT=rediscover. */
export function isNvmeCliTrigger(e: Uevent): boolean {
  return isDiscoveryLogChange(e) || (e.action === 'change' && e.properties['NVME_EVENT'] === 'rediscover');
}

export interface NvmeCliCoexistenceOptions {
  /** default: udevRulesDir() */
  rulesDir?: string;
  /** the systemctl to run (found on PATH by default) */
  systemctl?: string;
}

export class NvmeCliCoexistence {
  readonly rulePath: string;
  private readonly systemctl: string;
  /** we wrote the override (so we remove it at exit; a file that was there before is not ours) */
  private wroteRule = false;
  /** restarts started, for tests and process_info */
  restarts = 0;

  constructor(o: NvmeCliCoexistenceOptions = {}) {
    this.rulePath = join(o.rulesDir ?? udevRulesDir(), OVERRIDE_RULE_NAME);
    this.systemctl = o.systemctl ?? 'systemctl';
  }

  /** Installs the override rule unless a file of that name is already there. Never throws. */
  async installOverride(): Promise<void> {
    try {
      await access(this.rulePath);
      log().info(`nvme-cli coexistence: ${this.rulePath} already exists; left as it is`);
      return;
    } catch {
      // absent: ours to write
    }
    try {
      await writeFileDurable(this.rulePath, overrideRuleText());
      this.wroteRule = true;
      log().info(
        `nvme-cli coexistence: installed udev override ${this.rulePath} (nvme-cli's autoconnect rule is shadowed while stafd runs)`,
      );
    } catch (e) {
      log().error(
        `nvme-cli coexistence: cannot write udev override ${this.rulePath}: ${(e as Error).message}; nvme-cli may also act on stafd's discovery controllers`,
      );
    }
  }

  /** Removes the override if this process wrote it (and it still is ours). Never throws. */
  async removeOverride(): Promise<void> {
    if (!this.wroteRule) return;
    this.wroteRule = false;
    try {
      const text = await readFile(this.rulePath, 'utf8').catch(() => undefined);
      if (text !== undefined && text !== overrideRuleText()) {
        log().warn(`nvme-cli coexistence: ${this.rulePath} was changed by someone else; left in place`);
        return;
      }
      await unlinkDurable(this.rulePath);
      log().info(`nvme-cli coexistence: removed udev override ${this.rulePath}`);
    } catch (e) {
      log().error(`nvme-cli coexistence: cannot remove udev override ${this.rulePath}: ${(e as Error).message}`);
    }
  }

  /**
   * An nvme uevent of a device stafd does not own. When it is a discovery controller's log change or rediscover,
   * starts nvme-cli's connect-all for it through systemd. Never throws.
   */
  async foreignUevent(e: Uevent): Promise<void> {
    if (!isNvmeCliTrigger(e)) return;
    const device = ueventDeviceName(e);
    if (!/^nvme\d+$/.test(device)) return;
    const c = await readController(device).catch(() => undefined);
    if (!c) return;
    if (!isDiscoveryCandidate(c)) return;
    const unit = nvmfConnectUnit(device, e.properties);
    const why = e.properties['NVME_EVENT'] === 'rediscover' ? 'rediscover event' : 'discovery log page change';
    log().info(`nvme-cli coexistence: ${device} (not managed by stafd): ${why}; invoking systemctl restart ${unit}`);
    this.restarts++;
    try {
      const r = await execa(this.systemctl, ['--quiet', '--no-block', 'restart', unit], {
        reject: false,
        timeout: SYSTEMCTL_TIMEOUT_MS,
        stdin: 'ignore',
        all: true,
      });
      if (r.failed) {
        const detail =
          r.exitCode === undefined ? r.message : `exit code ${r.exitCode}${r.all ? `: ${String(r.all).trim()}` : ''}`;
        log().error(`nvme-cli coexistence: systemctl restart ${unit} failed (${detail})`);
      }
    } catch (err) {
      log().error(`nvme-cli coexistence: cannot run systemctl: ${(err as Error).message}`);
    }
  }
}
