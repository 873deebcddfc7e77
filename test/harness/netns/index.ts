// Two network namespaces joined by a veth pair, for mDNS tests that must not touch the host's networks.
// Names are unique per run; destroy() always deletes both namespaces (which also removes the veth pair)
// and kills what is still running inside them (only ever processes this test started: the namespaces are new).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { runChecked } from '../process.js';

/** Runs a command, bounded; rejects with its stderr in the message. */
export function sh(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return runChecked(cmd, args, { timeoutMs });
}

export interface NetnsEnd {
  ns: string;
  ifname: string;
  address: string;
}

export interface NetnsPair {
  a: NetnsEnd;
  b: NetnsEnd;
  destroy(): Promise<void>;
}

const live = new Set<NetnsPair>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // last resort if a test file dies without running its after hooks ('exit' handlers cannot await)
  process.once('exit', () => {
    for (const p of live) {
      for (const ns of [p.a.ns, p.b.ns]) {
        try {
          const pids = execFileSync('ip', ['netns', 'pids', ns], { timeout: 2_000 })
            .toString()
            .split('\n')
            .map(Number)
            .filter((n) => n > 0);
          for (const pid of pids) process.kill(pid, 'SIGKILL');
          execFileSync('ip', ['netns', 'del', ns], { timeout: 2_000 });
        } catch {
          /* best effort */
        }
      }
    }
  });
}

/** PIDs of the processes in a namespace. */
export async function netnsPids(ns: string): Promise<number[]> {
  const out = await sh('ip', ['netns', 'pids', ns]).catch(() => '');
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** SIGTERM, then SIGKILL, every process in the namespace (bounded). */
export async function killNetnsProcesses(ns: string): Promise<void> {
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    const pids = await netnsPids(ns);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
    const deadline = Date.now() + 2_000;
    while (Date.now() < deadline && (await netnsPids(ns)).length > 0) await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Creates `<prefix>-a` (10.X.Y.1/24) and `<prefix>-b` (10.X.Y.2/24) joined by veth, lo up, multicast on,
 * and a 224.0.0.0/4 route on the veth (stands in for the default route a real host has).
 */
export async function createNetnsPair(): Promise<NetnsPair> {
  if (process.getuid?.() !== 0) throw new Error('network namespaces need root');
  const tag = randomBytes(3).toString('hex');
  const nsA = `stas-${tag}-a`;
  const nsB = `stas-${tag}-b`;
  const ifA = `sv${tag}a`;
  const ifB = `sv${tag}b`;
  const x = 64 + (randomBytes(1)[0]! % 128);
  const y = randomBytes(1)[0]! % 250;
  const a: NetnsEnd = { ns: nsA, ifname: ifA, address: `10.${x}.${y}.1` };
  const b: NetnsEnd = { ns: nsB, ifname: ifB, address: `10.${x}.${y}.2` };
  let destroyed = false;
  const pair: NetnsPair = {
    a,
    b,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(pair);
      for (const ns of [nsA, nsB]) {
        await killNetnsProcesses(ns).catch(() => undefined);
        await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
      }
      // the veth normally dies with its namespace; make sure a half-created one does not linger in the root ns
      await sh('ip', ['link', 'del', ifA]).catch(() => undefined);
    },
  };
  live.add(pair);
  installExitHook();
  try {
    await sh('ip', ['netns', 'add', nsA]);
    await sh('ip', ['netns', 'add', nsB]);
    await sh('ip', ['link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB]);
    await sh('ip', ['link', 'set', ifA, 'netns', nsA]);
    await sh('ip', ['link', 'set', ifB, 'netns', nsB]);
    for (const end of [a, b]) {
      await sh('ip', ['-n', end.ns, 'addr', 'add', `${end.address}/24`, 'dev', end.ifname]);
      await sh('ip', ['-n', end.ns, 'link', 'set', 'lo', 'up']);
      await sh('ip', ['-n', end.ns, 'link', 'set', end.ifname, 'multicast', 'on', 'up']);
      await sh('ip', ['-n', end.ns, 'route', 'add', '224.0.0.0/4', 'dev', end.ifname]);
    }
  } catch (e) {
    await pair.destroy();
    throw e;
  }
  return pair;
}

export interface ExtraLink {
  ifA: string;
  ifB: string;
}

/**
 * A second veth between the pair's namespaces, with the given addresses (/24). Deleted with the namespaces.
 * Giving it the same A-side address as the first link builds the "same IP on several interfaces" misconfiguration.
 */
export async function addLink(pair: NetnsPair, addressA: string, addressB: string): Promise<ExtraLink> {
  const tag = randomBytes(3).toString('hex');
  const ifA = `sw${tag}a`;
  const ifB = `sw${tag}b`;
  await sh('ip', ['link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB]);
  try {
    await sh('ip', ['link', 'set', ifA, 'netns', pair.a.ns]);
    await sh('ip', ['link', 'set', ifB, 'netns', pair.b.ns]);
    for (const [ns, ifname, address] of [
      [pair.a.ns, ifA, addressA],
      [pair.b.ns, ifB, addressB],
    ] as const) {
      await sh('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', ifname]);
      await sh('ip', ['-n', ns, 'link', 'set', ifname, 'multicast', 'on', 'up']);
    }
  } catch (e) {
    await sh('ip', ['link', 'del', ifA]).catch(() => undefined);
    throw e;
  }
  return { ifA, ifB };
}
