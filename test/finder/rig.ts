// The real compiled stafd on a private system bus with a throw-away /etc and state directory, plus a D-Bus client
// that records stafd's signals. Shared by the finder tests and the finder bench.
import dbus from 'dbus-next';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { startDaemon, runCli, type RunningDaemon, type CliResult } from '../harness/daemons.js';
import { makeTestEtc, type TestEtc } from '../harness/env.js';
import { waitFor } from '../harness/wait.js';
import { callMethod, getNameOwner, subscribeSignals } from '../../daemons/dbus/bus.js';

export const STAF = {
  name: 'org.nvmexpress.staf',
  path: '/org/nvmexpress/staf',
  iface: 'org.nvmexpress.staf',
  debug: 'org.nvmexpress.staf.debug',
};
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
  allLogPages(
    detailed: boolean,
  ): Promise<{ 'discovery-controller': Record<string, string>; 'log-pages': Record<string, string>[] }[]>;
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
    const d = await startDaemon('stafd', {
      busAddress: bus.address,
      confFile: etc.stafdConf,
      env,
      args: ['--tron'],
      waitName: false,
      ...(opts.wrap ? { wrap: opts.wrap } : {}),
    });
    try {
      await waitFor(
        () => `stafd to own ${STAF.name}; output:\n${d.output()}`,
        async () => {
          if (d.proc.exitCode !== null) throw new Error(`stafd exited with ${d.proc.exitCode} before owning its name`);
          return getNameOwner(client, STAF.name);
        },
        { timeoutMs: opts.startTimeoutMs ?? 20_000, fatal: () => d.proc.exitCode !== null },
      );
    } catch (e) {
      d.proc.kill('SIGKILL');
      throw e;
    }
    return d;
  };
  let stafd = await launch();
  const signals: RecordedSignal[] = [];
  await subscribeSignals(client, { sender: STAF.name, interface: STAF.iface, path: STAF.path }, (msg) => {
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
    processInfo: async () =>
      JSON.parse((await call('process_info', '', [], STAF.debug))[0] as string) as Record<string, unknown>,
    waitSignal(pred, timeoutMs, since = 0) {
      return new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const tick = (): void => {
          const hit = signals.find((s) => s.at >= since && pred(s));
          if (hit) return resolve(hit);
          if (Date.now() > deadline)
            return reject(
              new Error(
                `no matching signal within ${timeoutMs} ms; got ${JSON.stringify(signals.slice(-5))}\nstafd output:\n${stafd.output().slice(-3000)}`,
              ),
            );
          setTimeout(tick, 20);
        };
        tick();
      });
    },
    waitFor: (what, check, timeoutMs) =>
      waitFor(() => `${what}; stafd output:\n${stafd.output().slice(-4000)}`, check, { timeoutMs, intervalMs: 50 }),
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
