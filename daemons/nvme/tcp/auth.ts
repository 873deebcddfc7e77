// DH-HMAC-CHAP on one queue, right after its Connect when the controller asks for authentication (AUTHREQ.ATR):
// AUTH_Negotiate → DH-HMAC-CHAP_Challenge → DH-HMAC-CHAP_Reply → Success1 (→ Success2 when the host also
// authenticated the controller). Every queue (admin and each I/O queue) authenticates, and again on every new
// connection. A refusal is an AuthenticationError naming the controller's reason; a malformed controller message is
// answered with AUTH_Failure2 and reported the same way. Secrets never appear in messages.
import { randomBytes, randomInt } from 'node:crypto';
import {
  AuthFailure,
  authFailureText,
  authReceiveCommand,
  authSendCommand,
  augmentChallenge,
  controllerResponse,
  decodeControllerMessage,
  dhExchange,
  dhGroupName,
  encodeFailure2,
  encodeNegotiate,
  encodeReply,
  encodeSuccess2,
  hashName,
  hostResponse,
  sameResponse,
  transformKey,
  type AuthHashId,
  type DhchapKeys,
  type DhGroupId,
} from '../protocol/auth.js';
import { ProtocolError } from '../protocol/errors.js';
import { ConnectionClosedError, NvmeStatusError, NvmeTcpError } from './errors.js';
import type { NvmeTcpQueue } from './queue.js';

export type { DhchapKeys } from '../protocol/auth.js';

/** Connect completion DW0: AUTHREQ bits (authentication transaction required / secure channel concatenation). */
export const CONNECT_AUTHREQ_ATR = 1 << 17;
export const CONNECT_AUTHREQ_ASCR = 1 << 18;

export type AuthFailureSide =
  'controller-refused' | 'controller-not-authenticated' | 'malformed' | 'no-secret' | 'unsupported';

/** Authentication did not succeed; `side` says who refused whom, `explanation` the DH-HMAC-CHAP reason code. */
export class AuthenticationError extends NvmeTcpError {
  constructor(
    readonly target: string,
    readonly side: AuthFailureSide,
    detail: string,
    readonly explanation?: number,
    cause?: unknown,
  ) {
    super('auth', `${target}: DH-HMAC-CHAP authentication failed: ${detail}`, { cause });
  }
}

export interface AuthParams {
  qid: number;
  hostnqn: string;
  subnqn: string;
  keys: DhchapKeys | undefined;
  /** what the host offers; default every hash and every group */
  hashes?: readonly AuthHashId[];
  groups?: readonly DhGroupId[];
}

export interface AuthOutcome {
  hash: string;
  dhgroup: string;
  bidirectional: boolean;
}

const ALL_HASHES: readonly AuthHashId[] = [1, 2, 3];
const ALL_GROUPS: readonly DhGroupId[] = [0, 1, 2, 3, 4, 5];

/** Authenticates the queue if the Connect completion asks for it; resolves undefined when it did not. */
export async function authenticateIfRequired(
  queue: NvmeTcpQueue,
  connectDw0: number,
  p: AuthParams,
): Promise<AuthOutcome | undefined> {
  if (connectDw0 & CONNECT_AUTHREQ_ASCR) {
    throw new AuthenticationError(
      queue.label,
      'unsupported',
      'the controller requires a secure channel (TLS concatenation), which this host does not implement',
    );
  }
  if (!(connectDw0 & CONNECT_AUTHREQ_ATR)) return undefined;
  if (!p.keys)
    throw new AuthenticationError(
      queue.label,
      'no-secret',
      'the controller requires authentication and no dhchap-secret is configured',
    );
  return authenticate(queue, p, p.keys);
}

let nextTid = randomInt(0x10000);

async function authenticate(queue: NvmeTcpQueue, p: AuthParams, keys: DhchapKeys): Promise<AuthOutcome> {
  const tid = nextTid++ & 0xffff;
  const label = queue.label;
  const send = async (msg: Buffer): Promise<void> => {
    try {
      await queue.submit(authSendCommand(msg));
    } catch (e) {
      throw asAuthError(label, e);
    }
  };
  const receive = async (): Promise<ReturnType<typeof decodeControllerMessage>> => {
    let data: Buffer;
    try {
      data = (await queue.submit(authReceiveCommand())).data;
    } catch (e) {
      throw asAuthError(label, e);
    }
    try {
      const m = decodeControllerMessage(data);
      if (m.kind === 'failure1') {
        throw new AuthenticationError(
          label,
          'controller-refused',
          `the controller refused: ${authFailureText(m.explanation)}`,
          m.explanation,
        );
      }
      if (m.tid !== tid) throw new ProtocolError(`transaction ID ${m.tid}, expected ${tid}`);
      return m;
    } catch (e) {
      if (e instanceof AuthenticationError || !(e instanceof ProtocolError)) throw e;
      await queue.submit(authSendCommand(encodeFailure2(tid, AuthFailure.IncorrectPayload))).catch(() => undefined);
      throw new AuthenticationError(
        label,
        'malformed',
        `malformed controller message: ${e.message}`,
        AuthFailure.IncorrectPayload,
        e,
      );
    }
  };
  const fail2 = async (exp: number, side: AuthFailureSide, detail: string): Promise<never> => {
    await queue.submit(authSendCommand(encodeFailure2(tid, exp))).catch(() => undefined);
    throw new AuthenticationError(label, side, detail, exp);
  };

  await send(encodeNegotiate(tid, p.hashes ?? ALL_HASHES, p.groups ?? ALL_GROUPS));
  const ch = await receive();
  if (ch.kind !== 'challenge')
    return fail2(AuthFailure.IncorrectMessage, 'malformed', `expected DH-HMAC-CHAP_Challenge, got ${ch.kind}`);
  if (!(p.hashes ?? ALL_HASHES).includes(ch.hashId))
    return fail2(
      AuthFailure.HashUnusable,
      'malformed',
      `the controller chose ${hashName(ch.hashId)}, which was not offered`,
    );
  if (!(p.groups ?? ALL_GROUPS).includes(ch.dhgroup))
    return fail2(
      AuthFailure.DhGroupUnusable,
      'malformed',
      `the controller chose ${dhGroupName(ch.dhgroup)}, which was not offered`,
    );

  let c1: Buffer = ch.challenge;
  let hostDhValue: Buffer = Buffer.alloc(0);
  let shared: Buffer | undefined;
  if (ch.dhgroup !== 0) {
    try {
      const x = dhExchange(ch.dhgroup, ch.dhValue);
      hostDhValue = x.publicValue;
      shared = x.sharedSecret;
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      return fail2(AuthFailure.IncorrectPayload, 'malformed', `malformed controller message: ${e.message}`);
    }
    c1 = augmentChallenge(ch.hashId, shared, c1);
  }
  const r1 = hostResponse({
    hashId: ch.hashId,
    key: transformKey(keys.secret, p.hostnqn),
    challenge: c1,
    seqnum: ch.seqnum,
    tid,
    hostnqn: p.hostnqn,
    subnqn: p.subnqn,
  });
  let c2: Buffer | undefined;
  let s2 = 0;
  if (keys.ctrlSecret) {
    c2 = randomBytes(r1.length);
    s2 = randomInt(1, 0x100000000);
  }
  await send(
    encodeReply({ tid, response: r1, ...(c2 ? { ctrlChallenge: c2 } : {}), seqnum: s2, dhValue: hostDhValue }),
  );
  const s1 = await receive();
  if (s1.kind !== 'success1')
    return fail2(AuthFailure.IncorrectMessage, 'malformed', `expected DH-HMAC-CHAP_Success1, got ${s1.kind}`);
  if (keys.ctrlSecret && c2) {
    if (!s1.response)
      return fail2(
        AuthFailure.Failed,
        'controller-not-authenticated',
        'the controller did not answer the host challenge',
      );
    const expected = controllerResponse({
      hashId: ch.hashId,
      key: transformKey(keys.ctrlSecret, p.subnqn),
      challenge: shared ? augmentChallenge(ch.hashId, shared, c2) : c2,
      seqnum: s2,
      tid,
      hostnqn: p.hostnqn,
      subnqn: p.subnqn,
    });
    if (!sameResponse(s1.response, expected)) {
      return fail2(
        AuthFailure.Failed,
        'controller-not-authenticated',
        "the controller's response does not match dhchap-ctrl-secret (wrong controller key, or an impostor)",
      );
    }
    await send(encodeSuccess2(tid));
  }
  return { hash: hashName(ch.hashId), dhgroup: dhGroupName(ch.dhgroup), bidirectional: keys.ctrlSecret !== undefined };
}

function asAuthError(label: string, e: unknown): unknown {
  if (e instanceof NvmeStatusError) {
    return new AuthenticationError(
      label,
      'controller-refused',
      `the controller refused: ${e.statusText}`,
      undefined,
      e,
    );
  }
  // nvmet sends Failure1 and tears the association down at once: the message is often lost with the connection
  if (e instanceof ConnectionClosedError && !e.byHost) {
    return new AuthenticationError(
      label,
      'controller-refused',
      'the controller closed the connection during authentication (it did not accept the key)',
      undefined,
      e,
    );
  }
  return e;
}
