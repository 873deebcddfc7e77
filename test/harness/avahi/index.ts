// avahi-daemon inside a test network namespace, with its own config, pid/socket dir and static-services dir.
// avahi-daemon has fixed paths (/run/avahi-daemon, /etc/avahi/services); `ip netns exec` gives the command a
// private mount namespace, where we bind-mount per-instance folders over them, so several daemons (one per
// namespace) run at once without touching the host's files. One daemon per namespace: a second one in the
// same namespace was seen to hang before logging anything.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  mkdtempSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../wait.js';

export interface AvahiOptions {
  ns: string;
  /** the only interface Avahi may use */
  iface: string;
  hostName: string;
  /** register org.freedesktop.Avahi on this bus (enable-dbus=yes); otherwise enable-dbus=no */
  busAddress?: string;
  /** initial static service files: file name (without .service) → XML */
  services?: Record<string, string>;
  /**
   * Static host records (/etc/avahi/hosts): `name.local` → address, published by this daemon for a machine that
   * runs no mDNS responder of its own (the target VM); pair with serviceXml's hostName.
   */
  hosts?: Record<string, string>;
  useIpv6?: boolean;
}

export interface AvahiPublication {
  stop(): Promise<void>;
}

export interface AvahiDaemon {
  pid: number;
  dir: string;
  servicesDir: string;
  log(): string;
  /** resolves when the log matches (bounded) */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<void>;
  /** adds/replaces a static service file (avahi picks it up through inotify) */
  addService(file: string, xml: string): void;
  removeService(file: string): void;
  /** avahi-publish-service on this daemon's bus (enable-dbus=yes only) */
  publish(name: string, stype: string, port: number, txt: string[]): Promise<AvahiPublication>;
  /** SIGKILL: the daemon dies without sending goodbye packets */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A TXT record: text as is, or `{ key, hex }` for raw bytes after `key=` (value-format="binary-hex"). */
export type TxtRecordSpec = string | { key: string; hex: string };

/** A static service file for one service. */
export function serviceXml(opts: {
  name: string;
  stype: string;
  port: number;
  txt: TxtRecordSpec[];
  hostName?: string;
}): string {
  return [
    `<?xml version="1.0" standalone='no'?>`,
    `<!DOCTYPE service-group SYSTEM "avahi-service.dtd">`,
    `<service-group>`,
    `  <name>${xmlEscape(opts.name)}</name>`,
    `  <service>`,
    `    <type>${xmlEscape(opts.stype)}</type>`,
    `    <port>${opts.port}</port>`,
    ...(opts.hostName ? [`    <host-name>${xmlEscape(opts.hostName)}</host-name>`] : []),
    ...opts.txt.map((t) =>
      typeof t === 'string'
        ? `    <txt-record>${xmlEscape(t)}</txt-record>`
        : `    <txt-record value-format="binary-hex">${xmlEscape(t.key)}=${t.hex}</txt-record>`,
    ),
    `  </service>`,
    `</service-group>`,
    '',
  ].join('\n');
}

function config(o: AvahiOptions): string {
  return `[server]
host-name=${o.hostName}
domain-name=local
use-ipv4=yes
use-ipv6=${o.useIpv6 ? 'yes' : 'no'}
allow-interfaces=${o.iface}
enable-dbus=${o.busAddress ? 'yes' : 'no'}
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
[reflector]
[rlimits]
`;
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (!(await exited(child, 3_000))) {
    child.kill('SIGKILL');
    await exited(child, 2_000);
  }
}

/** Starts avahi-daemon in `o.ns`; resolves once it reports "Server startup complete" (bounded: 15 s). */
export async function startAvahi(o: AvahiOptions): Promise<AvahiDaemon> {
  const dir = mkdtempSync(join(tmpdir(), `stas-avahi-${o.ns}-`));
  chmodSync(dir, 0o755);
  const runDir = join(dir, 'run');
  const servicesDir = join(dir, 'services');
  mkdirSync(runDir);
  mkdirSync(servicesDir);
  const confFile = join(dir, 'avahi-daemon.conf');
  writeFileSync(confFile, config(o));
  for (const [file, xml] of Object.entries(o.services ?? {})) writeFileSync(join(servicesDir, `${file}.service`), xml);
  const hostsFile = join(dir, 'hosts');
  writeFileSync(
    hostsFile,
    Object.entries(o.hosts ?? {})
      .map(([name, addr]) => `${addr} ${name}\n`)
      .join(''),
  );
  const logFile = join(dir, 'log');
  const fd = openSync(logFile, 'w');
  const script = [
    `mount --bind '${runDir}' /run/avahi-daemon 2>/dev/null || { mkdir -p /run/avahi-daemon && mount --bind '${runDir}' /run/avahi-daemon; }`,
    `mount --bind '${servicesDir}' /etc/avahi/services`,
    `mount --bind '${hostsFile}' /etc/avahi/hosts`,
    `exec avahi-daemon -f '${confFile}' --no-drop-root --no-chroot --no-rlimits --no-proc-title --debug`,
  ].join('\n');
  const env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: o.busAddress ?? 'unix:path=/nonexistent' };
  const child = spawn('ip', ['netns', 'exec', o.ns, 'sh', '-c', script], { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  const readLog = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  const publications = new Set<ChildProcess>();

  const daemon: AvahiDaemon = {
    pid: child.pid ?? -1,
    dir,
    servicesDir,
    log: readLog,
    async waitForLog(re, timeoutMs = 10_000) {
      await waitFor(
        () => `a line matching ${re} in the log of avahi-daemon in ${o.ns}; log:\n${readLog().slice(-3000)}`,
        () => re.test(readLog()),
        { timeoutMs, intervalMs: 50 },
      );
    },
    addService(file, xml) {
      // write then rename-free: avahi reacts to IN_CLOSE_WRITE
      writeFileSync(join(servicesDir, `${file}.service`), xml);
    },
    removeService(file) {
      unlinkSync(join(servicesDir, `${file}.service`));
    },
    async publish(name, stype, port, txt) {
      if (!o.busAddress) throw new Error('avahi-publish-service needs avahi-daemon with enable-dbus=yes');
      const p = spawn('avahi-publish-service', [name, stype, String(port), ...txt], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: o.busAddress },
      });
      publications.add(p);
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await waitFor(
          () => `avahi-publish-service ${name} to be established: ${out}`,
          () => /Established under name/.test(out) || p.exitCode !== null,
          { timeoutMs: 10_000, intervalMs: 50 },
        );
        if (p.exitCode !== null) throw new Error(`avahi-publish-service ${name} exited ${p.exitCode}: ${out}`);
      } catch (e) {
        await terminate(p);
        publications.delete(p);
        throw e;
      }
      return {
        async stop() {
          await terminate(p);
          publications.delete(p);
        },
      };
    },
    async crash() {
      child.kill('SIGKILL');
      await exited(child, 3_000);
    },
    async stop() {
      for (const p of publications) await terminate(p);
      publications.clear();
      await terminate(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(
      () => `avahi-daemon in ${o.ns} to start; log:\n${readLog().slice(-3000)}`,
      () => spawnError !== undefined || child.exitCode !== null || /Server startup complete/.test(readLog()),
      { timeoutMs: 15_000, intervalMs: 50 },
    );
    if (spawnError) throw new Error(`cannot run avahi-daemon (package avahi-daemon, iproute2): ${spawnError.message}`);
    if (child.exitCode !== null)
      throw new Error(`avahi-daemon in ${o.ns} exited with ${child.exitCode}; log:\n${readLog().slice(-3000)}`);
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  return daemon;
}
