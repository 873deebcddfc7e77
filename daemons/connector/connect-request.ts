// Connect parameters of one IOC (§3.4, §5.6): per-controller override > [Global] > not sent, checked before any
// connect so that a bogus value in a controller= line fails that controller with a reason naming the option,
// instead of reaching the kernel (or crashing).
import type { TID } from '../common/tid.js';
import type { ConnectParam } from '../config/controllers.js';
import type { IocConnectOptions, IocConnectRequest } from './driver.js';

export class ConnectOptionError extends Error {
  constructor(
    readonly option: string,
    reason: string,
  ) {
    super(`option ${option}: ${reason}`);
    this.name = 'ConnectOptionError';
  }
}

const INT_OPTIONS: Readonly<Record<string, keyof IocConnectOptions>> = {
  'nr-io-queues': 'nrIoQueues',
  'nr-write-queues': 'nrWriteQueues',
  'nr-poll-queues': 'nrPollQueues',
  'queue-size': 'queueSize',
  kato: 'keepAliveTmo',
  'reconnect-delay': 'reconnectDelay',
  'ctrl-loss-tmo': 'ctrlLossTmo',
};
const BOOL_OPTIONS: Readonly<Record<string, keyof IocConnectOptions>> = {
  'hdr-digest': 'hdrDigest',
  'data-digest': 'dataDigest',
  'disable-sqflow': 'disableSqflow',
};

/** Typed options from resolved connect parameters; throws ConnectOptionError for a value that cannot be used. */
export function connectOptions(params: readonly ConnectParam[]): IocConnectOptions {
  const o: IocConnectOptions = {};
  for (const p of params) {
    const intKey = INT_OPTIONS[p.option];
    const boolKey = BOOL_OPTIONS[p.option];
    let v = p.value;
    if (intKey) {
      if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) v = Number(v.trim());
      if (typeof v !== 'number' || !Number.isInteger(v))
        throw new ConnectOptionError(p.option, `"${String(p.value)}" is not an integer`);
      // ctrl-loss-tmo -1 means "forever" to the kernel; everything else must not be negative
      if (v < 0 && !(p.option === 'ctrl-loss-tmo' && v === -1))
        throw new ConnectOptionError(p.option, `${v} is negative`);
      (o as Record<string, number>)[intKey] = v;
    } else if (boolKey) {
      if (typeof v !== 'boolean') throw new ConnectOptionError(p.option, `"${String(p.value)}" is not a boolean`);
      if (v) (o as Record<string, boolean>)[boolKey] = true;
    }
  }
  return o;
}

export function buildConnectRequest(
  tid: TID,
  params: readonly ConnectParam[],
  hostnqn: string,
  hostid: string,
): IocConnectRequest {
  const secret = (k: string): string | undefined => {
    const v = tid.get(k);
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const dhchapSecret = secret('dhchap-secret');
  const dhchapCtrlSecret = secret('dhchap-ctrl-secret');
  return {
    tid,
    hostnqn,
    hostid,
    options: connectOptions(params),
    ...(dhchapSecret ? { dhchapSecret } : {}),
    ...(dhchapCtrlSecret ? { dhchapCtrlSecret } : {}),
  };
}
