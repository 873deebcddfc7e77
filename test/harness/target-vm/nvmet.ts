// Live reconfiguration of the kernel target (nvmet) through configfs, run as shell in the guest.
// Works the same for the target VM (busybox ash) and for the in-VM target of the host VM (dash).
import type { ExecOptions, ExecResult } from './control.js';

export type ExecFn = (cmd: string, opts?: ExecOptions) => Promise<ExecResult>;

export interface SubsystemOptions {
  /** Number of namespaces (file-backed, sparse on tmpfs), default 1. */
  namespaces?: number;
  /** Size of each namespace in MiB, default 64. */
  sizeMiB?: number;
  /** attr_serial (printable ASCII, at most 20 chars); default derived from the NQN. */
  serial?: string;
  /** attr_model (at most 40 chars). */
  model?: string;
}

export interface PortOptions {
  /** Listen address, default 0.0.0.0 (then nvmet reports the connection's local address in the log). */
  traddr?: string;
}

export interface PortInfo {
  portId: number;
  trsvcid: string;
  traddr: string;
}

/**
 * DH-HMAC-CHAP settings of one host entry (nvmet hosts/<hostnqn>/dhchap_*; kernels with CONFIG_NVME_TARGET_AUTH,
 * i.e. the '6.12' VMs). Keys in the DHHC-1 representation; hash and group as nvmet names them.
 */
export interface HostAuth {
  /** The host's secret (dhchap_key): the target requires authentication from this host. */
  key: string;
  /** The controller's secret (dhchap_ctrl_key): bidirectional authentication. Cannot be cleared once set. */
  ctrlKey?: string;
  /** dhchap_hash, default hmac(sha256). */
  hash?: 'hmac(sha256)' | 'hmac(sha384)' | 'hmac(sha512)';
  /** dhchap_dhgroup, default null. */
  dhgroup?: 'null' | 'ffdhe2048' | 'ffdhe3072' | 'ffdhe4096' | 'ffdhe6144' | 'ffdhe8192';
}

const CFG = '/sys/kernel/config/nvmet';

function checkKey(k: string): string {
  if (!/^DHHC-1:0[0-3]:[A-Za-z0-9+/=]+:$/.test(k))
    throw new Error('nvmet: a dhchap key must be in the DHHC-1:NN:base64: form');
  return k;
}

/** Names go into shell commands and configfs paths: only NQN characters are accepted. */
function checkNqn(nqn: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9.:_-]{0,222}$/.test(nqn)) throw new Error(`nvmet: invalid NQN '${nqn}'`);
  return nqn;
}
function checkPortId(id: number): number {
  if (!Number.isInteger(id) || id < 1 || id > 65535) throw new Error(`nvmet: invalid port id ${id}`);
  return id;
}
/** Single-quote for sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function run(exec: ExecFn, what: string, script: string): Promise<string> {
  const r = await exec(script, { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`nvmet ${what} failed (exit ${r.code}): ${r.out.trim()}`);
  return r.out;
}

function lines(out: string): string[] {
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

function defaultSerial(nqn: string): string {
  let h = 0;
  for (const c of nqn) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return `STAS${h.toString(16).padStart(8, '0')}`;
}

/** configfs helpers bound to a guest exec function. */
export class NvmetControl {
  constructor(private readonly execFn: ExecFn) {}

  async addSubsystem(nqn: string, opts: SubsystemOptions = {}): Promise<void> {
    checkNqn(nqn);
    const n = opts.namespaces ?? 1;
    const size = opts.sizeMiB ?? 64;
    if (!Number.isInteger(n) || n < 0 || n > 64) throw new Error(`nvmet: invalid namespace count ${n}`);
    if (!Number.isInteger(size) || size < 1) throw new Error(`nvmet: invalid namespace size ${size}`);
    const serial = opts.serial ?? defaultSerial(nqn);
    if (!/^[\x20-\x7e]{1,20}$/.test(serial)) throw new Error(`nvmet: invalid serial '${serial}'`);
    const file = nqn.replace(/[^A-Za-z0-9]/g, '_');
    const s = [
      'set -e',
      `S=${CFG}/subsystems/${shq(nqn)}`,
      'mkdir "$S"',
      'echo 1 > "$S/attr_allow_any_host"',
      `printf '%s' ${shq(serial)} > "$S/attr_serial"`,
    ];
    if (opts.model !== undefined) s.push(`printf '%s' ${shq(opts.model)} > "$S/attr_model"`);
    if (n > 0) s.push('mkdir -p /data', 'grep -q " /data " /proc/mounts || mount -t tmpfs -o size=2g tmpfs /data');
    for (let j = 1; j <= n; j++) {
      const f = `/data/${file}-ns${j}.img`;
      s.push(
        `mkdir "$S/namespaces/${j}"`,
        `truncate -s ${size}M ${shq(f)}`,
        `echo ${shq(f)} > "$S/namespaces/${j}/device_path"`,
        // tmpfs has no O_DIRECT on 6.1
        `echo 1 > "$S/namespaces/${j}/buffered_io"`,
        `echo 1 > "$S/namespaces/${j}/enable"`,
      );
    }
    await run(this.execFn, `addSubsystem ${nqn}`, s.join('\n'));
  }

  /** Unlinks the subsystem from every port, disables and removes its namespaces (and their files), removes it. */
  async removeSubsystem(nqn: string): Promise<void> {
    checkNqn(nqn);
    const s = [
      `N=${CFG}; Q=${shq(nqn)}; S=$N/subsystems/$Q`,
      '[ -d "$S" ] || { echo "no such subsystem $Q"; exit 1; }',
      'for l in $N/ports/*/subsystems/$Q; do [ -L "$l" ] && rm "$l"; done',
      'for h in "$S"/allowed_hosts/*; do [ -L "$h" ] && rm "$h"; done',
      'for ns in "$S"/namespaces/*; do [ -d "$ns" ] || continue; echo 0 > "$ns/enable"; f=$(cat "$ns/device_path");' +
        ' rmdir "$ns"; case "$f" in /data/*) rm -f "$f";; esac; done',
      'rmdir "$S"',
    ];
    await run(this.execFn, `removeSubsystem ${nqn}`, s.join('\n'));
  }

  /** Links the subsystem to the port (the first link of a port makes it listen; the DC sends an AEN). */
  async linkSubsystem(nqn: string, portId: number): Promise<void> {
    checkNqn(nqn);
    checkPortId(portId);
    await run(
      this.execFn,
      `linkSubsystem ${nqn} ${portId}`,
      `ln -s ${CFG}/subsystems/${shq(nqn)} ${CFG}/ports/${portId}/subsystems/${shq(nqn)}`,
    );
  }

  async unlinkSubsystem(nqn: string, portId: number): Promise<void> {
    checkNqn(nqn);
    checkPortId(portId);
    await run(this.execFn, `unlinkSubsystem ${nqn} ${portId}`, `rm ${CFG}/ports/${portId}/subsystems/${shq(nqn)}`);
  }

  /**
   * Restricts the subsystem to listed hosts (attr_allow_any_host 0) and lets this host in, optionally with
   * DH-HMAC-CHAP keys (the host entry is shared by every subsystem that lists it: its keys are per host).
   */
  async allowHost(nqn: string, hostNqn: string, auth?: HostAuth): Promise<void> {
    checkNqn(nqn);
    checkNqn(hostNqn);
    const s = [
      'set -e',
      `H=${CFG}/hosts/${shq(hostNqn)}; S=${CFG}/subsystems/${shq(nqn)}`,
      '[ -d "$H" ] || mkdir "$H"',
      // nvmet refuses host links while any host is allowed
      'echo 0 > "$S/attr_allow_any_host"',
      `[ -L "$S/allowed_hosts/${hostNqn}" ] || ln -s "$H" "$S/allowed_hosts/${hostNqn}"`,
    ];
    await run(this.execFn, `allowHost ${nqn} ${hostNqn}`, s.join('\n'));
    if (auth) await this.setHostAuth(hostNqn, auth);
  }

  /** Sets (or replaces) the DH-HMAC-CHAP settings of a host entry; new connections use them. */
  async setHostAuth(hostNqn: string, auth: HostAuth): Promise<void> {
    checkNqn(hostNqn);
    const hash = auth.hash ?? 'hmac(sha256)';
    const group = auth.dhgroup ?? 'null';
    if (!/^hmac\(sha(256|384|512)\)$/.test(hash)) throw new Error(`nvmet: invalid dhchap hash '${hash}'`);
    if (!/^(null|ffdhe(2048|3072|4096|6144|8192))$/.test(group))
      throw new Error(`nvmet: invalid dhchap group '${group}'`);
    const s = [
      'set -e',
      `H=${CFG}/hosts/${shq(hostNqn)}`,
      '[ -e "$H/dhchap_key" ] || { echo "this kernel has no nvmet authentication (dhchap_key missing)"; exit 1; }',
      `echo ${shq(hash)} > "$H/dhchap_hash"`,
      `echo ${shq(group)} > "$H/dhchap_dhgroup"`,
      `echo ${shq(checkKey(auth.key))} > "$H/dhchap_key"`,
    ];
    // nvmet refuses an empty key: a controller key, once set, goes away with the host entry (disallowHost)
    if (auth.ctrlKey) s.push(`echo ${shq(checkKey(auth.ctrlKey))} > "$H/dhchap_ctrl_key"`);
    await run(this.execFn, `setHostAuth ${hostNqn}`, s.join('\n'));
  }

  /** Unlists the host from the subsystem (back to allow-any-host when no host is left) and drops unused entries. */
  async disallowHost(nqn: string, hostNqn: string): Promise<void> {
    checkNqn(nqn);
    checkNqn(hostNqn);
    const s = [
      `N=${CFG}; S=$N/subsystems/${shq(nqn)}; H=$N/hosts/${shq(hostNqn)}`,
      `[ -L "$S/allowed_hosts/${hostNqn}" ] && rm "$S/allowed_hosts/${hostNqn}"`,
      '[ -n "$(ls "$S/allowed_hosts")" ] || echo 1 > "$S/attr_allow_any_host"',
      // rmdir fails while another subsystem still lists the host: that is fine
      'rmdir "$H" 2>/dev/null; true',
    ];
    await run(this.execFn, `disallowHost ${nqn} ${hostNqn}`, s.join('\n'));
  }

  async listSubsystems(): Promise<string[]> {
    return lines(await run(this.execFn, 'listSubsystems', `ls -1 ${CFG}/subsystems`)).sort();
  }

  async listPortLinks(portId: number): Promise<string[]> {
    checkPortId(portId);
    return lines(await run(this.execFn, `listPortLinks ${portId}`, `ls -1 ${CFG}/ports/${portId}/subsystems`)).sort();
  }

  /** Creates an nvmet TCP port. It only starts listening once a subsystem is linked to it. */
  async addPort(portId: number, trsvcid: number | string, opts: PortOptions = {}): Promise<PortInfo> {
    checkPortId(portId);
    const svc = String(trsvcid);
    if (!/^\d{1,5}$/.test(svc)) throw new Error(`nvmet: invalid trsvcid '${svc}'`);
    const traddr = opts.traddr ?? '0.0.0.0';
    if (!/^[0-9A-Fa-f.:]+$/.test(traddr)) throw new Error(`nvmet: invalid traddr '${traddr}'`);
    const s = [
      'set -e',
      `P=${CFG}/ports/${portId}`,
      'mkdir "$P"',
      'echo tcp > "$P/addr_trtype"',
      `echo ${traddr.includes(':') ? 'ipv6' : 'ipv4'} > "$P/addr_adrfam"`,
      `echo ${traddr} > "$P/addr_traddr"`,
      `echo ${svc} > "$P/addr_trsvcid"`,
    ];
    await run(this.execFn, `addPort ${portId}`, s.join('\n'));
    return { portId, trsvcid: svc, traddr };
  }

  /** Unlinks everything from the port and removes it. */
  async removePort(portId: number): Promise<void> {
    checkPortId(portId);
    const s = [
      `P=${CFG}/ports/${portId}`,
      '[ -d "$P" ] || { echo "no such port"; exit 1; }',
      'for l in "$P"/subsystems/*; do [ -L "$l" ] && rm "$l"; done',
      'rmdir "$P"',
    ];
    await run(this.execFn, `removePort ${portId}`, s.join('\n'));
  }

  async listPorts(): Promise<PortInfo[]> {
    const out = await run(
      this.execFn,
      'listPorts',
      `for p in ${CFG}/ports/*; do [ -d "$p" ] && echo "$(basename $p) $(cat $p/addr_trsvcid) $(cat $p/addr_traddr)"; done; true`,
    );
    return lines(out)
      .map((l) => {
        const [id, svc, addr] = l.split(/\s+/);
        return { portId: Number(id), trsvcid: svc ?? '', traddr: addr ?? '' };
      })
      .sort((a, b) => a.portId - b.portId);
  }
}
