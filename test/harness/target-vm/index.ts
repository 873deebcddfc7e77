// Suite-wide QEMU VMs for tests, booted once and reused by every test file (process):
//  - ensureTargetVm(): a busybox VM running the Linux kernel NVMe-oF/TCP target (nvmet-tcp), reached from the host
//    through 127.0.0.1 forwards of guest ports 4420 (I/O) and 8009 (discovery);
//  - ensureHostVm(): a kernel-host VM on the host's own root filesystem (9p, read-only, tmpfs overlay) with the
//    repository shared read-write at the same path, nvme-tcp loaded, udevd running and its own nvmet target on
//    127.0.0.1 (4420/8009), for tests of the kernel fabrics driver.
// State (pid, ports, console log, monitor socket) lives in <repo>/.test-state/vm/<name>/; a lock directory makes
// sure that concurrent processes boot a VM only once. test/harness/cleanup.ts stops them at the end of the suite.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { checkKernelSeries, DEFAULT_KERNEL, ensureBootArtefacts, type KernelSeries } from './artefacts.js';
import { controlExec, type ExecOptions, type ExecResult } from './control.js';
import { acquireLock } from './lock.js';
import { NvmetControl, type PortInfo, type PortOptions } from './nvmet.js';
import {
  consolePath,
  consoleTail,
  freePorts,
  hmp,
  launchQemu,
  runningPid,
  stopQemu,
  waitForMarker,
  type Forward,
} from './qemu.js';
import { guestDir, repoRoot, vmDir, vmStateRoot } from './paths.js';
import {
  allocateLanAddress,
  createTap,
  destroyLan,
  lanNetns,
  LAN_APPLIANCE_IP,
  LAN_TARGET_IP,
  plugTap,
  setTapState,
  vmTapName,
} from './lan.js';

export type { ExecResult, ExecOptions } from './control.js';
export type { HostAuth, PortInfo, PortOptions, SubsystemOptions } from './nvmet.js';
export { NvmetControl } from './nvmet.js';
export { type KernelSeries, KERNEL_SERIES, DEFAULT_KERNEL } from './artefacts.js';
export { attachToLan, type LanHost, LAN_TARGET_IP, LAN_APPLIANCE_IP, LAN_CLIENT_IP, lanNetns } from './lan.js';

const LOCALHOST = '127.0.0.1' as const;
const GUEST_CTL_PORT = 2323;
const GUEST_IO_PORT = 4420;
const GUEST_DISC_PORT = 8009;
/** NQN prefix of the subsystems configured at boot: `${DEFAULT_NQN_BASE}1`, `…2`, … */
export const DEFAULT_NQN_BASE = 'nqn.2024-01.io.example:subsys';
export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

type Mode = 'target' | 'hostroot';

interface VmState {
  name: string;
  mode: Mode;
  pid: number;
  guestIp: string;
  ctlPort: number;
  forwards: Forward[];
  subsystems: string[];
  kernelRelease: string;
  /** kernel series booted (absent in state written before the choice existed: 6.1) */
  kernel?: KernelSeries;
  bootedAt: string;
  /** tap of the second NIC on the test LAN, if any */
  tap?: string;
  /** the guest's address on the test LAN (eth1), with the tap */
  lanAddress?: string;
}

export interface TargetVmOptions {
  /** State-dir name, default 'target'. A VM with other boot options needs another name. */
  name?: string;
  /**
   * Kernel: '6.1' (default, Debian 12's, installed) or '6.12' (Debian 13's, fetched on first use by fetch-kernel.sh;
   * has NVMe in-band authentication). Only the default 'target' VM sits on the test LAN.
   */
  kernel?: KernelSeries;
  /** Guest RAM, default 512 MiB. */
  memMiB?: number;
  /** Subsystems configured at boot (all linked to ports 1 (4420) and 2 (8009)), default 3. */
  subsystems?: number;
  /** Namespaces per boot subsystem, default 2. */
  namespaces?: number;
  /** Guest eth0 address, default 10.0.2.15 (what nvmet reports as traddr in discovery log entries). */
  guestIp?: string;
  /** Bound for boot → ready, default 90 s (env STAS_VM_BOOT_TIMEOUT_MS). */
  bootTimeoutMs?: number;
}

export interface HostVmOptions {
  /** State-dir name, default 'host'. */
  name?: string;
  /** Kernel of the VM (and of its in-VM target): '6.1' (default) or '6.12' (see TargetVmOptions.kernel). */
  kernel?: KernelSeries;
  /** Guest RAM, default 1024 MiB. */
  memMiB?: number;
  /** TCG translation cache, default 128 MiB (keeps QEMU RSS near 420 MiB). */
  tbMiB?: number;
  /** Also run an nvmet target inside the VM (127.0.0.1:4420/8009), default true. */
  target?: boolean;
  /** Subsystems of the in-VM target at boot, default 3 (namespaces: 1 each). */
  subsystems?: number;
  /** Start systemd-udevd in the VM, default true. */
  udev?: boolean;
  /** vCPUs, default 1. */
  smp?: number;
  /**
   * Sub-directories of the checkout served from a caching 9p view (fast node module loading; later host-side
   * changes inside them are not seen by this VM), default ['node_modules']. [] = everything live.
   */
  cachedDirs?: string[];
  /** Bound for boot → ready, default 180 s (env STAS_VM_BOOT_TIMEOUT_MS). */
  bootTimeoutMs?: number;
  /**
   * A second NIC (eth1) on the test LAN (lan.ts): an address (`LAN_CLIENT_IP`, …), `true` for one allocated from
   * 10.77.0.10-250 (kept while the VM runs), `false` for none. Default: the default 'host' VM is on the LAN at
   * `LAN_APPLIANCE_IP` (10.77.0.3), other names are not.
   */
  lan?: boolean | string;
}

interface VmBase {
  readonly name: string;
  readonly pid: number;
  /** True when this call found the VM already running (booted by this or another process). */
  readonly reused: boolean;
  readonly stateDir: string;
  readonly consoleLog: string;
  /** Control-channel forward (guest busybox nc -e /bin/sh). */
  readonly ctlPort: number;
  /** NQNs of the subsystems configured at boot. */
  readonly defaultSubsystems: readonly string[];
  /** Kernel series booted and its release (uname -r). */
  readonly kernel: KernelSeries;
  readonly kernelRelease: string;
  /** Runs a shell command in the guest (ash in the target, dash in the host VM); stdout+stderr merged. */
  exec(cmd: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Last lines of the serial console, for failure messages. */
  consoleTail(lines?: number): string;
  stopVm(): Promise<void>;
}

export interface TargetVm extends VmBase, NvmetControl {
  readonly host: typeof LOCALHOST;
  /** Host port forwarded to guest 4420 (nvmet port 1, I/O subsystems). */
  readonly ioPort: number;
  /** Host port forwarded to guest 8009 (nvmet port 2). */
  readonly discPort: number;
  /** Guest address: nvmet puts it into discovery log entries (traddr). */
  readonly guestIp: string;
  /** Creates an nvmet port and a host forward to it; hostPort is where the host reaches it. */
  addPort(
    portId: number,
    trsvcid: number | string,
    opts?: PortOptions,
  ): Promise<PortInfo & { host: string; hostPort: number }>;
  /** Where the host reaches an address from a discovery log entry (guest IP + trsvcid); undefined if not forwarded. */
  mapAddress(traddr: string, trsvcid: string | number): { host: string; port: number } | undefined;
  /**
   * The target on the test LAN (lan.ts): its address there (nvmet listens on 0.0.0.0, so every port answers on it
   * too and discovery log entries read over the LAN name this address) and the LAN's namespace.
   */
  readonly lan: { address: string; ns: string };
  /** Takes the target off the LAN (its tap down) or puts it back, without stopping it. */
  setLanLink(up: boolean): Promise<void>;
  /** Remote IPv4 addresses of the established TCP connections to a guest port (the guest's /proc/net/tcp). */
  tcpPeers(port: number): Promise<string[]>;
}

export interface HostVm extends VmBase, NvmetControl {
  /** Repository checkout, shared read-write at the same path inside the VM. */
  readonly repoRoot: string;
  /** The VM's eth1 on the test LAN (option `lan`): its address there and the LAN's namespace. Throws if none. */
  readonly lan: { address: string; ns: string };
  /** Takes the VM off the LAN (its tap down) or puts it back, without stopping it. */
  setLanLink(up: boolean): Promise<void>;
  /** Address of the in-VM target as seen from inside the VM (and reported in its discovery log). */
  readonly targetTraddr: typeof LOCALHOST;
  readonly ioPort: 4420;
  readonly discPort: 8009;
}

function bootTimeout(opt: number | undefined, dflt: number): number {
  const env = Number(process.env['STAS_VM_BOOT_TIMEOUT_MS']);
  return opt ?? (Number.isFinite(env) && env > 0 ? env : dflt);
}

function statePath(dir: string): string {
  return join(dir, 'state.json');
}

function readState(dir: string): VmState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(dir), 'utf8')) as VmState;
  } catch {
    return undefined;
  }
}

function writeState(dir: string, st: VmState): void {
  const tmp = `${statePath(dir)}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(st, null, 2));
  renameSync(tmp, statePath(dir)); // atomic: readers never see half a file
}

const markerOf = (mode: Mode): string => (mode === 'target' ? 'NVMET-READY' : 'HOSTROOT-READY');

async function tapPlugged(tap: string): Promise<boolean> {
  const r = await execa('ip', ['-n', lanNetns, 'link', 'show', tap], { timeout: 10_000, reject: false });
  return r.exitCode === 0;
}

async function isAlive(dir: string, st: VmState): Promise<boolean> {
  if (runningPid(dir) !== st.pid) return false;
  if (st.tap && !(await tapPlugged(st.tap))) return false; // the LAN was torn down under a running VM
  if (!existsSync(consolePath(dir)) || !readFileSync(consolePath(dir), 'utf8').includes(markerOf(st.mode)))
    return false;
  try {
    const r = await controlExec(LOCALHOST, st.ctlPort, 'echo alive', { timeoutMs: 8_000 });
    return r.code === 0 && r.out.includes('alive');
  } catch {
    return false;
  }
}

interface BootPlan {
  mode: Mode;
  kernel: KernelSeries;
  memMiB: number;
  tbMiB?: number;
  smp?: number;
  guestIp: string;
  /** guest ports to forward besides the control port */
  guestPorts: number[];
  guestEnv: Record<string, string>;
  subsystems: string[];
  shares?: Array<{ tag: string; path: string; readonly: boolean }>;
  /** a second NIC on the test LAN through this tap */
  tap?: string;
  /** its guest address: fixed, or 'auto' (the running VM's, else allocated); passed as NVT_IP2=<address>/24 */
  lanAddress?: string;
  timeoutMs: number;
}

/** Reuses the running VM of that name or boots it; always under the cross-process lock. */
async function ensureVm(name: string, plan: BootPlan): Promise<{ st: VmState; reused: boolean }> {
  mkdirSync(vmStateRoot, { recursive: true });
  const dir = vmDir(name);
  const release = await acquireLock(join(vmStateRoot, `${name}.lock`), plan.timeoutMs + 180_000);
  try {
    const old = readState(dir);
    const sameShape =
      old &&
      old.mode === plan.mode &&
      old.tap === plan.tap &&
      (plan.lanAddress === undefined || plan.lanAddress === 'auto' || old.lanAddress === plan.lanAddress) &&
      (old.kernel ?? DEFAULT_KERNEL) === plan.kernel;
    if (old && sameShape && (await isAlive(dir, old))) return { st: old, reused: true };
    await stopQemu(dir); // a qemu that is there but does not answer
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const art = await ensureBootArtefacts(plan.kernel);
    // a kernel that is not the installed one: the host VM reads its modules from the unpacked tree (9p "kmods")
    const shares = [...(plan.shares ?? [])];
    const guestEnv = { ...plan.guestEnv };
    const lanAddress = plan.lanAddress === 'auto' ? await allocateLanAddress() : plan.lanAddress;
    if (lanAddress) guestEnv['NVT_IP2'] = `${lanAddress}/24`;
    if (plan.mode === 'hostroot' && art.modRoot !== '/') {
      shares.push({ tag: 'kmods', path: join(art.modRoot, 'lib', 'modules', art.kernelRelease), readonly: true });
      guestEnv['NVT_KMODS'] = '1';
    }
    const t0 = Date.now();
    let lastErr: unknown;
    // a free port can be taken between our probe and QEMU's bind: one more try with fresh ports
    for (let attempt = 0; attempt < 2; attempt++) {
      const ports = await freePorts(plan.guestPorts.length + 1);
      const ctlPort = ports[0] as number;
      const forwards: Forward[] = [
        { hostPort: ctlPort, guestPort: GUEST_CTL_PORT },
        ...plan.guestPorts.map((g, i) => ({ hostPort: ports[i + 1] as number, guestPort: g })),
      ];
      try {
        if (plan.tap) await createTap(plan.tap);
        await launchQemu({
          name,
          dir,
          kernel: art.kernel,
          initramfs: art.initramfs,
          memMiB: plan.memMiB,
          tbMiB: plan.tbMiB,
          smp: plan.smp,
          guestIp: plan.guestIp,
          forwards,
          guestEnv,
          shares,
          tap: plan.tap,
        });
        // QEMU holds the tap open now; moved into the LAN namespace, it stays attached to the VM
        if (plan.tap) await plugTap(plan.tap);
      } catch (e) {
        lastErr = e;
        continue;
      }
      try {
        await waitForMarker(dir, name, markerOf(plan.mode), plan.timeoutMs);
        const r = await controlExec(LOCALHOST, ctlPort, 'echo alive', { timeoutMs: 15_000 });
        if (r.code !== 0 || !r.out.includes('alive')) throw new Error(`control channel answered ${JSON.stringify(r)}`);
      } catch (e) {
        const tail = consoleTail(dir);
        await stopQemu(dir);
        throw new Error(`VM ${name} did not become ready: ${(e as Error).message}\n--- console tail ---\n${tail}`);
      }
      const pid = runningPid(dir);
      if (pid === undefined) throw new Error(`VM ${name}: qemu vanished after boot\n${consoleTail(dir)}`);
      const st: VmState = {
        name,
        mode: plan.mode,
        pid,
        guestIp: plan.guestIp,
        ctlPort,
        forwards,
        subsystems: plan.subsystems,
        kernelRelease: art.kernelRelease,
        kernel: plan.kernel,
        bootedAt: new Date().toISOString(),
        ...(plan.tap ? { tap: plan.tap } : {}),
        ...(lanAddress ? { lanAddress } : {}),
      };
      writeState(dir, st);
      process.stderr.write(
        `[target-vm] booted ${plan.mode} VM '${name}' (kernel ${art.kernelRelease}) in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${pid})\n`,
      );
      return { st, reused: false };
    }
    throw new Error(`VM ${name}: qemu failed to start: ${(lastErr as Error).message}`);
  } finally {
    release();
  }
}

function hostPortOf(st: VmState, guestPort: number): number {
  const f = st.forwards.find((x) => x.guestPort === guestPort);
  if (!f) throw new Error(`VM ${st.name}: no forward for guest port ${guestPort}`);
  return f.hostPort;
}

const inflight = new Map<string, Promise<TargetVm | HostVm>>();
const resolved = new Map<string, TargetVm | HostVm>();

/**
 * One ensure per VM per process; a handle whose QEMU is gone (stopped by another process, crashed) is dropped so
 * that the next call boots again instead of returning a dead handle.
 */
function memo<T extends TargetVm | HostVm>(key: string, name: string, make: () => Promise<T>): Promise<T> {
  const done = resolved.get(key);
  if (done && runningPid(vmDir(name)) !== done.pid) {
    inflight.delete(key);
    resolved.delete(key);
  }
  let p = inflight.get(key) as Promise<T> | undefined;
  if (!p) {
    p = make();
    inflight.set(key, p);
    p.then(
      (vm) => resolved.set(key, vm),
      () => inflight.delete(key),
    );
  }
  return p;
}

function forget(name: string): void {
  for (const key of [`target:${name}`, `host:${name}`]) {
    inflight.delete(key);
    resolved.delete(key);
  }
}

class TargetVmImpl extends NvmetControl implements TargetVm {
  readonly host = LOCALHOST;
  readonly ioPort: number;
  readonly discPort: number;
  readonly guestIp: string;
  readonly name: string;
  readonly pid: number;
  readonly ctlPort: number;
  readonly stateDir: string;
  readonly consoleLog: string;
  readonly defaultSubsystems: readonly string[];
  readonly kernel: KernelSeries;
  readonly kernelRelease: string;

  get lan(): { address: string; ns: string } {
    if (!this.st.tap) throw new Error(`VM ${this.name} is not on the test LAN (only the default 'target' VM is)`);
    return { address: this.st.lanAddress ?? LAN_TARGET_IP, ns: lanNetns };
  }

  constructor(
    private readonly st: VmState,
    readonly reused: boolean,
  ) {
    super((cmd, opts) => controlExec(LOCALHOST, st.ctlPort, cmd, opts));
    this.name = st.name;
    this.pid = st.pid;
    this.ctlPort = st.ctlPort;
    this.guestIp = st.guestIp;
    this.ioPort = hostPortOf(st, GUEST_IO_PORT);
    this.discPort = hostPortOf(st, GUEST_DISC_PORT);
    this.stateDir = vmDir(st.name);
    this.consoleLog = consolePath(this.stateDir);
    this.defaultSubsystems = st.subsystems;
    this.kernel = st.kernel ?? DEFAULT_KERNEL;
    this.kernelRelease = st.kernelRelease;
  }

  exec(cmd: string, opts?: ExecOptions): Promise<ExecResult> {
    return controlExec(LOCALHOST, this.ctlPort, cmd, opts);
  }

  consoleTail(lines?: number): string {
    return consoleTail(this.stateDir, lines);
  }

  override async addPort(
    portId: number,
    trsvcid: number | string,
    opts?: PortOptions,
  ): Promise<PortInfo & { host: string; hostPort: number }> {
    const info = await super.addPort(portId, trsvcid, opts);
    const guestPort = Number(info.trsvcid);
    const release = await acquireLock(join(vmStateRoot, `${this.name}.lock`), 60_000);
    try {
      const st = readState(this.stateDir) ?? this.st;
      let fwd = st.forwards.find((f) => f.guestPort === guestPort);
      if (!fwd) {
        const [hostPort] = await freePorts(1);
        const out = await hmp(this.stateDir, `hostfwd_add n0 tcp:127.0.0.1:${hostPort}-${st.guestIp}:${guestPort}`);
        if (out.length > 0) throw new Error(`VM ${this.name}: hostfwd_add for guest port ${guestPort} failed: ${out}`);
        fwd = { hostPort: hostPort as number, guestPort };
        st.forwards.push(fwd);
        writeState(this.stateDir, st);
      }
      return { ...info, host: LOCALHOST, hostPort: fwd.hostPort };
    } finally {
      release();
    }
  }

  async setLanLink(up: boolean): Promise<void> {
    if (!this.st.tap) throw new Error(`VM ${this.name} has no LAN link`);
    await setTapState(this.st.tap, up);
  }

  async tcpPeers(port: number): Promise<string[]> {
    const r = await this.exec('cat /proc/net/tcp');
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    return r.out.split('\n').flatMap((line) => {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || !f[1]!.endsWith(`:${hexPort}`) || f[3] !== '01') return []; // 01 = ESTABLISHED
      const hex = f[2]!.split(':')[0]!; // little-endian IPv4
      return [[3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.')];
    });
  }

  mapAddress(traddr: string, trsvcid: string | number): { host: string; port: number } | undefined {
    if (traddr !== this.guestIp && traddr !== '0.0.0.0') return undefined;
    const st = readState(this.stateDir) ?? this.st; // forwards may have been added by another process
    const f = st.forwards.find((x) => x.guestPort === Number(trsvcid));
    return f ? { host: LOCALHOST, port: f.hostPort } : undefined;
  }

  async stopVm(): Promise<void> {
    await stopVmByName(this.name);
  }
}

class HostVmImpl extends NvmetControl implements HostVm {
  readonly repoRoot = repoRoot;
  readonly targetTraddr = LOCALHOST;
  readonly ioPort = 4420 as const;
  readonly discPort = 8009 as const;
  readonly name: string;
  readonly pid: number;
  readonly ctlPort: number;
  readonly stateDir: string;
  readonly consoleLog: string;
  readonly defaultSubsystems: readonly string[];
  readonly kernel: KernelSeries;
  readonly kernelRelease: string;

  constructor(
    private readonly st: VmState,
    readonly reused: boolean,
  ) {
    super((cmd, opts) => controlExec(LOCALHOST, st.ctlPort, cmd, opts));
    this.name = st.name;
    this.pid = st.pid;
    this.ctlPort = st.ctlPort;
    this.stateDir = vmDir(st.name);
    this.consoleLog = consolePath(this.stateDir);
    this.defaultSubsystems = st.subsystems;
    this.kernel = st.kernel ?? DEFAULT_KERNEL;
    this.kernelRelease = st.kernelRelease;
  }

  get lan(): { address: string; ns: string } {
    if (!this.st.tap || !this.st.lanAddress) throw new Error(`VM ${this.name} is not on the test LAN (option lan)`);
    return { address: this.st.lanAddress, ns: lanNetns };
  }

  async setLanLink(up: boolean): Promise<void> {
    if (!this.st.tap) throw new Error(`VM ${this.name} has no LAN link`);
    await setTapState(this.st.tap, up);
  }

  exec(cmd: string, opts?: ExecOptions): Promise<ExecResult> {
    return controlExec(LOCALHOST, this.ctlPort, cmd, opts);
  }

  consoleTail(lines?: number): string {
    return consoleTail(this.stateDir, lines);
  }

  async stopVm(): Promise<void> {
    await stopVmByName(this.name);
  }
}

function nqnList(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${DEFAULT_NQN_BASE}${i + 1}`);
}

/** Boots the target VM once per suite (or reuses the running one) and returns its handle. */
export function ensureTargetVm(opts: TargetVmOptions = {}): Promise<TargetVm> {
  const name = opts.name ?? 'target';
  return memo(`target:${name}`, name, async () => {
    const subsystems = opts.subsystems ?? 3;
    const guestIp = opts.guestIp ?? '10.0.2.15';
    const { st, reused } = await ensureVm(name, {
      mode: 'target',
      kernel: checkKernelSeries(opts.kernel ?? DEFAULT_KERNEL),
      memMiB: opts.memMiB ?? 512,
      guestIp,
      guestPorts: [GUEST_IO_PORT, GUEST_DISC_PORT],
      subsystems: nqnList(subsystems),
      timeoutMs: bootTimeout(opts.bootTimeoutMs, 90_000),
      // only the default target VM sits on the test LAN (one tap name per checkout)
      ...(name === 'target' ? { tap: vmTapName(name), lanAddress: LAN_TARGET_IP } : {}),
      guestEnv: {
        NVT_MODE: 'target',
        NVT_IP: guestIp,
        NVT_CTL_PORT: String(GUEST_CTL_PORT),
        NVT_SUBSYS: String(subsystems),
        NVT_NS: String(opts.namespaces ?? 2),
        NVT_PORTS: `1:${GUEST_IO_PORT},2:${GUEST_DISC_PORT}`,
        NVT_NQN_BASE: DEFAULT_NQN_BASE,
      },
    });
    return new TargetVmImpl(st, reused);
  });
}

/** Boots the kernel-host VM once per suite (or reuses it); the repository is live, rw, at the same path inside. */
export function ensureHostVm(opts: HostVmOptions = {}): Promise<HostVm> {
  const name = opts.name ?? 'host';
  return memo(`host:${name}`, name, async () => {
    const target = opts.target ?? true;
    const subsystems = target ? (opts.subsystems ?? 3) : 0;
    const env: Record<string, string> = {
      NVT_MODE: 'hostroot',
      NVT_NAME: name,
      NVT_STAGE2: join(guestDir, 'stage2.sh'),
      NVT_WORK_AT: repoRoot,
      NVT_IP: '10.0.2.15',
      NVT_CTL_PORT: String(GUEST_CTL_PORT),
      NVT_UDEV: opts.udev === false ? '0' : '1',
      NVT_TARGET: target ? '1' : '0',
    };
    const lan = opts.lan ?? (name === 'host' ? LAN_APPLIANCE_IP : false);
    if (typeof lan === 'string' && !/^10\.77\.0\.([3-9]|[1-9]\d|1\d\d|2[0-4]\d|250)$/.test(lan))
      throw new Error(`ensureHostVm: lan address ${lan} is not a free test LAN address (10.77.0.3-250)`);
    const cached = (opts.cachedDirs ?? ['node_modules']).filter((d) => /^[A-Za-z0-9._-]+$/.test(d));
    if (cached.length > 0) env['NVT_WORK_CACHED'] = cached.join(',');
    if (target) {
      Object.assign(env, {
        NVT_SUBSYS: String(subsystems),
        NVT_NS: '1',
        NVT_PORTS: `1:${GUEST_IO_PORT},2:${GUEST_DISC_PORT}`,
        NVT_NQN_BASE: DEFAULT_NQN_BASE,
      });
    }
    const { st, reused } = await ensureVm(name, {
      mode: 'hostroot',
      kernel: checkKernelSeries(opts.kernel ?? DEFAULT_KERNEL),
      memMiB: opts.memMiB ?? 1024,
      tbMiB: opts.tbMiB ?? 128,
      smp: opts.smp ?? 1,
      guestIp: '10.0.2.15',
      guestPorts: [],
      subsystems: nqnList(subsystems),
      timeoutMs: bootTimeout(opts.bootTimeoutMs, 180_000),
      ...(lan === false ? {} : { tap: vmTapName(name), lanAddress: lan === true ? 'auto' : lan }),
      guestEnv: env,
      shares: [
        { tag: 'hostroot', path: '/', readonly: true },
        { tag: 'work', path: repoRoot, readonly: false },
      ],
    });
    return new HostVmImpl(st, reused);
  });
}

/** Stops the VM with that state-dir name (if running); keeps its console log for post-mortems. */
export async function stopVmByName(name: string): Promise<boolean> {
  const dir = vmDir(name);
  forget(name);
  const release = await acquireLock(join(vmStateRoot, `${name}.lock`), 60_000);
  try {
    const stopped = await stopQemu(dir);
    rmSync(statePath(dir), { force: true });
    rmSync(join(dir, 'monitor.sock'), { force: true });
    return stopped;
  } finally {
    release();
  }
}

/** Stops every VM this harness started (all state dirs under .test-state/vm). Returns the names stopped. */
export async function stopAllVms(): Promise<string[]> {
  if (!existsSync(vmStateRoot)) return [];
  const stopped: string[] = [];
  for (const name of readdirSync(vmStateRoot, { withFileTypes: true })) {
    if (!name.isDirectory() || name.name.endsWith('.lock')) continue;
    try {
      if (await stopVmByName(name.name)) stopped.push(name.name);
    } catch (e) {
      process.stderr.write(`[target-vm] stopping ${name.name}: ${(e as Error).message}\n`);
    }
  }
  inflight.clear();
  resolved.clear();
  await destroyLan();
  return stopped;
}
