// What the userspace-host tests against the in-process fake target share: a host identity, fake targets that are
// stopped when the test file ends, and admin-session options for one of them. Not a test file.
import { after } from 'node:test';
import { DISCOVERY_NQN } from '../../daemons/nvme/protocol/constants.js';
import type { SessionOptions } from '../../daemons/nvme/tcp/session.js';
import { FakeTarget, type FakeTargetOptions } from '../harness/fake-target/index.js';

export const HOSTID = '6e1ff0a8-9b0e-4c8f-a2a4-1d2b3c4d5e6f';
export const HOSTNQN = `nqn.2014-08.org.nvmexpress:uuid:${HOSTID}`;

const targets: FakeTarget[] = [];
after(async () => {
  for (const t of targets) await t.stop();
});

/** A fake target, stopped after the test file. */
export async function target(opts: FakeTargetOptions = {}): Promise<FakeTarget> {
  const t = await FakeTarget.start(opts);
  targets.push(t);
  return t;
}

/** Session options of this host for the discovery subsystem of t (3 s per command). */
export function opts(t: FakeTarget, extra: Partial<SessionOptions> = {}): SessionOptions {
  return {
    host: t.host,
    port: t.port,
    subnqn: DISCOVERY_NQN,
    hostnqn: HOSTNQN,
    hostid: HOSTID,
    commandTimeoutMs: 3000,
    ...extra,
  };
}
