// The real compiled stacd (and optionally stafd) on a private bus with a throw-away /etc, plus a D-Bus client.
import dbus from 'dbus-next';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { startDaemon, nameOwned, type RunningDaemon } from '../harness/daemons.js';
import { makeTestEtc, type TestEtc } from '../harness/env.js';
import { waitFor as waitUntil } from '../harness/wait.js';
import { callMethod } from '../../daemons/dbus/bus.js';
import type { PlanJson } from '../../daemons/connector/plan-json.js';

export const STAC = {
  name: 'org.nvmexpress.stac',
  path: '/org/nvmexpress/stac',
  iface: 'org.nvmexpress.stac',
  debug: 'org.nvmexpress.stac.debug',
};
export const CONNECTOR = { path: '/org/nvmexpress/stac/connector', iface: 'org.nvmexpress.stac.Connector1' };

export interface ConnectorRig {
  bus: PrivateBus;
  etc: TestEtc;
  stacd: RunningDaemon;
  stafd: RunningDaemon | undefined;
  client: dbus.MessageBus;
  env: Record<string, string>;
  list(detailed: boolean): Promise<Record<string, string>[]>;
  plan(): Promise<PlanJson>;
  processInfo(): Promise<Record<string, unknown>>;
  startStafd(): Promise<RunningDaemon>;
  restartStacd(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * startDaemon with a longer bound (a node start in a TCG VM can take more than 20 s), waiting until the daemon says
 * it is ready, not only until it owns its name: the runtime requests the name before its engine has started and
 * installs its signal handlers only after that, so a SIGHUP in between would kill it (Node's default action).
 */
async function launch(
  prog: 'stafd' | 'stacd',
  busAddress: string,
  confFile: string,
  env: Record<string, string>,
  nameTimeoutMs: number,
  wrap?: string[],
): Promise<RunningDaemon> {
  const d = await startDaemon(prog, {
    busAddress,
    confFile,
    env,
    args: ['--tron'],
    waitName: false,
    ...(wrap ? { wrap } : {}),
  });
  const name = prog === 'stafd' ? 'org.nvmexpress.staf' : STAC.name;
  const deadline = Date.now() + nameTimeoutMs;
  while (!nameOwned(busAddress, name)) {
    if (d.proc.exitCode !== null || d.proc.signalCode !== null)
      throw new Error(
        `${prog} ended (exit code ${d.proc.exitCode}, signal ${d.proc.signalCode}) before owning its name:\n${d.output()}`,
      );
    if (Date.now() > deadline) {
      d.proc.kill('SIGKILL');
      throw new Error(`${prog} did not own ${name} within ${nameTimeoutMs} ms:\n${d.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const ready = `${prog} ready on D-Bus`;
  while (!d.output().includes(ready)) {
    if (d.proc.exitCode !== null || d.proc.signalCode !== null) {
      throw new Error(
        `${prog} owned ${name}, then ended before it was ready (exit code ${d.proc.exitCode}, signal ${d.proc.signalCode}):\n${d.output().slice(-3000)}`,
      );
    }
    if (Date.now() > deadline) {
      d.proc.kill('SIGKILL');
      throw new Error(
        `${prog} owned ${name} but did not log "${ready}" within ${nameTimeoutMs} ms:\n${d.output().slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return d;
}

/** stacd (or stafd) is no longer running: waiting any longer cannot help (waitFor rethrows it at once). */
export class DaemonGone extends Error {}

/** Throws DaemonGone with the daemon's exit status and the end of its output if it has exited. */
export function assertRunning(prog: string, d: RunningDaemon | undefined): void {
  if (!d) return;
  const { exitCode, signalCode } = d.proc;
  if (exitCode === null && signalCode === null) return;
  throw new DaemonGone(
    `${prog} is not running (exit code ${exitCode}, signal ${signalCode}); its output ends:\n${d.output().slice(-3000)}`,
  );
}

/** `wrap`: run both daemons through this command prefix, e.g. ['ip', 'netns', 'exec', ns] */
export async function startConnectorRig(o: {
  stacdConf: string;
  stafdConf?: string;
  env?: Record<string, string>;
  nameTimeoutMs?: number;
  wrap?: string[];
}): Promise<ConnectorRig> {
  const nameTimeoutMs = o.nameTimeoutMs ?? 20_000;
  const bus = await startPrivateBus();
  const etc = makeTestEtc({ stacd: o.stacdConf, ...(o.stafdConf ? { stafd: o.stafdConf } : {}) });
  const env = { ...etc.env, STAS_FABRICS_DRIVER: 'userspace', ...o.env };
  const client = dbus.sessionBus({ busAddress: bus.address });
  const rig: ConnectorRig = {
    bus,
    etc,
    env,
    client,
    stafd: undefined,
    stacd: undefined as unknown as RunningDaemon,
    async list(detailed) {
      assertRunning('stacd', rig.stacd);
      const [l] = await callMethod(client, {
        destination: STAC.name,
        path: STAC.path,
        interface: STAC.iface,
        member: 'list_controllers',
        signature: 'b',
        body: [detailed],
      });
      return l as Record<string, string>[];
    },
    async plan() {
      assertRunning('stacd', rig.stacd);
      const [t] = await callMethod(client, {
        destination: STAC.name,
        path: CONNECTOR.path,
        interface: CONNECTOR.iface,
        member: 'Plan',
      });
      return JSON.parse(t as string) as PlanJson;
    },
    async processInfo() {
      assertRunning('stacd', rig.stacd);
      const [t] = await callMethod(client, {
        destination: STAC.name,
        path: STAC.path,
        interface: STAC.debug,
        member: 'process_info',
      });
      return JSON.parse(t as string) as Record<string, unknown>;
    },
    async startStafd() {
      // stafd's state directory apart from stacd's (both use STATE_DIRECTORY)
      rig.stafd = await launch(
        'stafd',
        bus.address,
        etc.stafdConf,
        { ...env, STATE_DIRECTORY: `${etc.dir}/stafd-state` },
        nameTimeoutMs,
        o.wrap,
      );
      return rig.stafd;
    },
    async restartStacd() {
      await rig.stacd.stop();
      rig.stacd = await launch('stacd', bus.address, etc.stacdConf, env, nameTimeoutMs, o.wrap);
    },
    async stop() {
      await rig.stacd?.stop().catch(() => undefined);
      await rig.stafd?.stop().catch(() => undefined);
      client.disconnect();
      await bus.stop();
      etc.cleanup();
    },
  };
  if (o.stafdConf) await rig.startStafd();
  rig.stacd = await launch('stacd', bus.address, etc.stacdConf, env, nameTimeoutMs, o.wrap);
  return rig;
}

/** The harness's waitFor, ended at once when a daemon of the rig has exited (DaemonGone). */
export function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  return waitUntil(what, check, { timeoutMs, fatal: (e) => e instanceof DaemonGone });
}

export const connectedNqns = (l: Record<string, string>[]): string[] =>
  l
    .filter((c) => c.connected === 'True')
    .map((c) => c.subsysnqn!)
    .sort();
