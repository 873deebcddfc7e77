// The real compiled stafd on a private system bus with a throw-away /etc and state directory, plus a D-Bus client
// that records stafd's signals. Shared by the finder tests and the finder bench.
import dbus from 'dbus-next';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { spawn } from 'node:child_process';
import { startDaemon, runCli, scriptPath, type RunningDaemon, type CliResult } from '../harness/daemons.js';
import { makeTestEtc, type TestEtc } from '../harness/env.js';
import { callMethod, getNameOwner, subscribeSignals } from '../../daemons/dbus/bus.js';

export const STAF = { name: 'org.nvmexpress.staf', path: '/org/nvmexpress/staf', iface: 'org.nvmexpress.staf', debug: 'org.nvmexpress.staf.debug' };
export const DISC_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

export interface RecordedSignal {
  member: string;
  body: string[];
  at: number;
}

export interface FinderRig {
  bus: PrivateBus;
  etc: TestEtc;
  stafd: RunningDaemon;
  client: dbus.MessageBus;
  signals: RecordedSignal[];
  call(member: string, signature?: string, body?: unknown[], iface?: string): Promise<unknown[]>;
  listControllers(detailed: boolean): Promise<Record<string, string>[]>;
  getLogPages(tid7: string[]): Promise<Record<string, string>[]>;
  allLogPages(detailed: boolean): Promise<{ 'discovery-controller': Record<string, string>; 'log-pages': Record<string, string>[] }[]>;
  processInfo(): Promise<Record<string, unknown>>;
  /** resolves with the first signal after `since` (ms timestamp) that matches */
  waitSignal(pred: (s: RecordedSignal) => boolean, timeoutMs: number, since?: number): Promise<RecordedSignal>;
  /** polls `check` every 50 ms until it returns a value other than undefined */
  waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T>;
  stafctl(args: string[]): Promise<CliResult>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface RigOptions {
  conf: string;
  env?: Record<string, string>;
  /** reuse this /etc (restarts with the same state directory) */
  etc?: TestEtc;
  bus?: PrivateBus;
  /** run stafd through this command prefix, e.g. ['ip', 'netns', 'exec', ns] */
  wrap?: string[];
  /** bound on stafd owning its name (default 20 s; the kernel-host VM runs node under TCG and needs longer) */
  startTimeoutMs?: number;
}

export async function startFinderRig(opts: RigOptions): Promise<FinderRig> {
  const bus = opts.bus ?? (await startPrivateBus());
  const etc = opts.etc ?? makeTestEtc();
  etc.write('stafd.conf', opts.conf);
  const env = { ...etc.env, STAS_FABRICS_DRIVER: 'userspace', ...opts.env };
  // the name is watched through our own connection (busctl is not usable everywhere, e.g. in the kernel-host VM)
  const client = dbus.sessionBus({ busAddress: bus.address });
  const launch = async (): Promise<RunningDaemon> => {
    const d = opts.wrap
      ? spawnWrapped(opts.wrap, [scriptPath('stafd'), '-f', etc.stafdConf, '--tron'], { ...env, DBUS_SYSTEM_BUS_ADDRESS: bus.address })
      : await startDaemon('stafd', { busAddress: bus.address, confFile: etc.stafdConf, env, args: ['--tron'], waitName: false });
    const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
    while (!(await getNameOwner(client, STAF.name).catch(() => undefined))) {
      if (d.proc.exitCode !== null) throw new Error(`stafd exited with ${d.proc.exitCode} before owning its name:\n${d.output()}`);
      if (Date.now() > deadline) {
        d.proc.kill('SIGKILL');
        throw new Error(`stafd did not own ${STAF.name} within ${opts.startTimeoutMs ?? 20_000} ms:\n${d.output()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return d;
  };
  let stafd = await launch();
  const signals: RecordedSignal[] = [];
  await subscribeSignals(client, { interface: STAF.iface, path: STAF.path }, (msg) => {
    signals.push({ member: msg.member ?? '', body: (msg.body as string[] | undefined) ?? [], at: Date.now() });
  });
  const call = (member: string, signature = '', body: unknown[] = [], iface = STAF.iface): Promise<unknown[]> =>
    callMethod(client, { destination: STAF.name, path: STAF.path, interface: iface, member, signature, body }, 10_000);

  const rig: FinderRig = {
    bus,
    etc,
    get stafd() {
      return stafd;
    },
    client,
    signals,
    call,
    listControllers: async (d) => (await call('list_controllers', 'b', [d]))[0] as Record<string, string>[],
    getLogPages: async (t) => (await call('get_log_pages', 'sssssss', t))[0] as Record<string, string>[],
    allLogPages: async (d) => JSON.parse((await call('get_all_log_pages', 'b', [d]))[0] as string),
    processInfo: async () => JSON.parse((await call('process_info', '', [], STAF.debug))[0] as string) as Record<string, unknown>,
    waitSignal(pred, timeoutMs, since = 0) {
      return new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const tick = (): void => {
          const hit = signals.find((s) => s.at >= since && pred(s));
          if (hit) return resolve(hit);
          if (Date.now() > deadline) return reject(new Error(`no matching signal within ${timeoutMs} ms; got ${JSON.stringify(signals.slice(-5))}\nstafd output:\n${stafd.output().slice(-3000)}`));
          setTimeout(tick, 20);
        };
        tick();
      });
    },
    async waitFor(what, check, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      for (;;) {
        try {
          const v = await check();
          if (v !== undefined) return v;
        } catch (e) {
          last = e;
        }
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}\nstafd output:\n${stafd.output().slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stafctl: (args) => runCli('stafctl', args, { busAddress: bus.address, env: etc.env }),
    async restart() {
      const code = await stafd.stop();
      if (code !== 0) throw new Error(`stafd exited with ${code}`);
      stafd = await launch();
    },
    async stop() {
      client.disconnect();
      const code = await stafd.stop();
      if (!opts.bus) await bus.stop();
      if (!opts.etc) etc.cleanup();
      if (code !== 0) throw new Error(`stafd exited with ${code}:\n${stafd.output().slice(-3000)}`);
    },
  };
  return rig;
}

export function dcTuple(traddr: string, trsvcid: string, hostnqn: string, subsysnqn = DISC_NQN): string[] {
  return ['tcp', traddr, trsvcid, subsysnqn, '', '', hostnqn];
}

/** The compiled stafd started through a command prefix (a network namespace), with the harness's daemon interface. */
function spawnWrapped(wrap: string[], args: string[], env: Record<string, string>): RunningDaemon {
  const proc = spawn(wrap[0]!, [...wrap.slice(1), process.execPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    output: () => out,
    async waitForLog(text, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = out.split('\n').find((l) => (typeof text === 'string' ? l.includes(text) : text.test(l)));
        if (hit !== undefined) return hit;
        if (Date.now() > deadline) throw new Error(`stafd: no log line matching ${String(text)} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    signal: (sig) => proc.kill(sig),
    async stop(timeoutMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs))]);
      if (code === 'timeout') {
        proc.kill('SIGKILL');
        throw new Error(`stafd did not stop within ${timeoutMs} ms after SIGTERM`);
      }
      return code;
    },
  };
}
