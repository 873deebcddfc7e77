// NVMe in-band authentication, DH-HMAC-CHAP (NVMe base specification 2.0, 8.13 / 5.3 Authentication Send/Receive):
// the DHHC-1 secret representation and its key transformation, the messages (negotiate, challenge, reply,
// success1/2, failure1/2) and the HMAC computations. Pure (node:crypto only); no I/O.
import { createDiffieHellman, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { AdminOpcode, FabricsType } from './constants.js';
import { EncodeError, MalformedError, ProtocolError, need } from './errors.js';
import { FFDHE_GENERATOR, FFDHE_PRIMES } from './ffdhe.js';
import { encodeSqe } from './sqe.js';
import type { NvmeCommand } from './commands.js';

// ------------------------------------------------------------------------------------------------ identifiers

/** Hash function identifiers (DH-HMAC-CHAP), also the NN of a DHHC-1 secret (00 = no key transformation). */
export const AuthHash = { Sha256: 1, Sha384: 2, Sha512: 3 } as const;
export type AuthHashId = (typeof AuthHash)[keyof typeof AuthHash];

const HASHES: Readonly<Record<AuthHashId, { name: 'sha256' | 'sha384' | 'sha512'; len: number }>> = {
  1: { name: 'sha256', len: 32 },
  2: { name: 'sha384', len: 48 },
  3: { name: 'sha512', len: 64 },
};

/** Diffie-Hellman group identifiers: 0 = null (no DH), 1..5 = ffdhe2048..ffdhe8192. */
export const DhGroup = { Null: 0, Ffdhe2048: 1, Ffdhe3072: 2, Ffdhe4096: 3, Ffdhe6144: 4, Ffdhe8192: 5 } as const;
export type DhGroupId = (typeof DhGroup)[keyof typeof DhGroup];
const GROUP_BITS: Readonly<Record<Exclude<DhGroupId, 0>, 2048 | 3072 | 4096 | 6144 | 8192>> = {
  1: 2048,
  2: 3072,
  3: 4096,
  4: 6144,
  5: 8192,
};

export function hashLength(id: AuthHashId): number {
  return HASHES[id].len;
}
export function hashName(id: AuthHashId): string {
  return `hmac(${HASHES[id].name})`;
}
export function dhGroupName(id: DhGroupId): string {
  return id === 0 ? 'null' : `ffdhe${GROUP_BITS[id]}`;
}
/** Bytes of a DH value (public key) of the group; 0 for the null group. */
export function dhValueLength(id: DhGroupId): number {
  return id === 0 ? 0 : GROUP_BITS[id] / 8;
}
export function isHashId(n: number): n is AuthHashId {
  return n === 1 || n === 2 || n === 3;
}
export function isDhGroupId(n: number): n is DhGroupId {
  return Number.isInteger(n) && n >= 0 && n <= 5;
}

/** Security protocol of Authentication Send/Receive (SECP) and its SPSP0/SPSP1 for DH-HMAC-CHAP. */
export const AUTH_SECP = 0xe9;
const AUTH_SPSP = 0x01;

/** AUTH_Type of a message header. */
export const AuthType = { Common: 0x00, DhChap: 0x01 } as const;
/** AUTH_Id of a message header. */
export const AuthMsg = {
  Negotiate: 0x00,
  Challenge: 0x01,
  Reply: 0x02,
  Success1: 0x03,
  Success2: 0x04,
  Failure2: 0xf0,
  Failure1: 0xf1,
} as const;

/** Reason code explanations of Failure1/Failure2 (reason code 01h = "authentication failure"). */
export const AuthFailure = {
  Failed: 0x01,
  NotUsable: 0x02,
  ConcatMismatch: 0x03,
  HashUnusable: 0x04,
  DhGroupUnusable: 0x05,
  IncorrectPayload: 0x06,
  IncorrectMessage: 0x07,
} as const;
const FAILURE_TEXT: Readonly<Record<number, string>> = {
  0x01: 'authentication failed',
  0x02: 'authentication protocol not usable',
  0x03: 'secure channel concatenation mismatch',
  0x04: 'hash function not usable',
  0x05: 'DH group not usable',
  0x06: 'incorrect payload',
  0x07: 'incorrect protocol message',
};
export function authFailureText(exp: number): string {
  return FAILURE_TEXT[exp] ?? `failure explanation 0x${exp.toString(16).padStart(2, '0')}`;
}

// ------------------------------------------------------------------------------------------------ errors

/** A DHHC-1 secret that cannot be used; `reason` names what is wrong (never the secret itself). */
export class DhchapKeyError extends ProtocolError {
  constructor(
    readonly reason: 'format' | 'hash-id' | 'base64' | 'length' | 'crc',
    detail: string,
  ) {
    super(`invalid DH-HMAC-CHAP secret: ${detail}`);
  }
}

// ------------------------------------------------------------------------------------------------ secrets

export interface DhchapSecret {
  /** NN of DHHC-1:NN: — 0 = use the key as is, 1..3 = transform it with HMAC-SHA-256/384/512 */
  hash: 0 | AuthHashId;
  key: Buffer;
}

/** The host's secrets for one controller, parsed (common/dhchap-keys.ts resolves them from the configuration). */
export interface DhchapKeys {
  /** the host's secret (dhchap-secret) */
  secret: DhchapSecret;
  /** the controller's secret (dhchap-ctrl-secret): the host authenticates the controller too */
  ctrlSecret?: DhchapSecret;
}

/**
 * Parses `DHHC-1:NN:<base64 of key || CRC-32(key) little-endian>:`. Key length 32, 48 or 64 bytes; a NN of
 * 01/02/03 needs the matching length (32/48/64), as nvme-cli and the kernel produce them.
 */
export function parseDhchapSecret(s: string): DhchapSecret {
  const m = /^DHHC-1:([0-9]{2}):([A-Za-z0-9+/]+={0,2}):$/.exec(s.trim());
  if (!m) throw new DhchapKeyError('format', "expected 'DHHC-1:NN:<base64>:'");
  const nn = Number(m[1]);
  if (nn !== 0 && !isHashId(nn))
    throw new DhchapKeyError('hash-id', `unknown hash identifier ${m[1]} (00, 01, 02 or 03)`);
  const b64 = m[2] as string;
  if (b64.length % 4 !== 0)
    throw new DhchapKeyError('base64', 'the base64 part is not a whole number of 4-character groups');
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 36 && raw.length !== 52 && raw.length !== 68) {
    throw new DhchapKeyError('length', `key of ${raw.length - 4} bytes (32, 48 or 64 + 4 bytes CRC)`);
  }
  const key = raw.subarray(0, raw.length - 4);
  if (nn !== 0 && key.length !== hashLength(nn)) {
    throw new DhchapKeyError('length', `hash identifier ${m[1]} needs a ${hashLength(nn)}-byte key, got ${key.length}`);
  }
  if (crc32(key) !== raw.readUInt32LE(key.length)) throw new DhchapKeyError('crc', 'CRC-32 mismatch (mistyped key?)');
  return { hash: nn as 0 | AuthHashId, key: Buffer.from(key) };
}

/** The DHHC-1 representation of a key (what `nvme gen-dhchap-key` prints). */
export function formatDhchapSecret(secret: DhchapSecret): string {
  const { hash, key } = secret;
  if (key.length !== 32 && key.length !== 48 && key.length !== 64)
    throw new EncodeError('DHHC-1', `key length ${key.length} (32, 48 or 64)`);
  if (hash !== 0 && key.length !== hashLength(hash))
    throw new EncodeError('DHHC-1', `hash ${hash} needs a ${hashLength(hash)}-byte key`);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(key));
  return `DHHC-1:0${hash}:${Buffer.concat([key, crc]).toString('base64')}:`;
}

/**
 * A new random secret. `hmac` 0 (no transformation, key length `keyLength`, default 32) or 1..3 (length of that
 * hash). With an NQN, the key is derived like nvme-cli's: HMAC(random, NQN || "NVMe-over-Fabrics").
 */
export function generateDhchapSecret(
  hmac: 0 | AuthHashId = 0,
  opts: { nqn?: string; keyLength?: 32 | 48 | 64 } = {},
): DhchapSecret {
  const len = hmac === 0 ? (opts.keyLength ?? 32) : hashLength(hmac);
  let key: Buffer = randomBytes(len);
  if (opts.nqn !== undefined && hmac !== 0) key = transformKey({ hash: hmac, key }, opts.nqn);
  return { hash: hmac, key };
}

/** The key transformation: Kx = HMAC-hash(NN)(key, NQN || "NVMe-over-Fabrics"); NN 00 = the key itself. */
export function transformKey(secret: DhchapSecret, nqn: string): Buffer {
  if (secret.hash === 0) return Buffer.from(secret.key);
  return createHmac(HASHES[secret.hash].name, secret.key)
    .update(nqn, 'utf8')
    .update('NVMe-over-Fabrics', 'latin1')
    .digest();
}

// ------------------------------------------------------------------------------------------------ commands

/** Authentication Send (fabrics 05h) carrying one message (in-capsule on TCP). */
export function authSendCommand(message: Buffer): NvmeCommand {
  const sqe = encodeSqe({ opc: AdminOpcode.Fabrics, fctype: FabricsType.AuthenticationSend });
  sqe[41] = AUTH_SPSP;
  sqe[42] = AUTH_SPSP;
  sqe[43] = AUTH_SECP;
  sqe.writeUInt32LE(message.length, 44); // TL
  return { name: `AuthenticationSend(${msgName(message[1] ?? 0xff)})`, sqe, write: message, fabrics: true };
}

/** Authentication Receive (fabrics 06h): the controller's next message, at most `allocationLength` bytes. */
export function authReceiveCommand(allocationLength = 4096): NvmeCommand {
  const sqe = encodeSqe({ opc: AdminOpcode.Fabrics, fctype: FabricsType.AuthenticationReceive });
  sqe[41] = AUTH_SPSP;
  sqe[42] = AUTH_SPSP;
  sqe[43] = AUTH_SECP;
  sqe.writeUInt32LE(allocationLength, 44); // AL
  return { name: 'AuthenticationReceive', sqe, readLength: allocationLength, fabrics: true };
}

function msgName(id: number): string {
  const e = Object.entries(AuthMsg).find(([, v]) => v === id);
  return e ? e[0] : `0x${id.toString(16)}`;
}

// ------------------------------------------------------------------------------------------------ messages

function header(type: number, id: number, tid: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b[0] = type;
  b[1] = id;
  b.writeUInt16LE(tid & 0xffff, 4);
  return b;
}

/** AUTH_Negotiate: one DH-HMAC-CHAP protocol descriptor listing the hashes and DH groups the host accepts. */
export function encodeNegotiate(tid: number, hashes: readonly AuthHashId[], groups: readonly DhGroupId[]): Buffer {
  if (hashes.length === 0 || hashes.length > 30)
    throw new EncodeError('AUTH_Negotiate', `${hashes.length} hash identifiers (1..30)`);
  if (groups.length === 0 || groups.length > 30)
    throw new EncodeError('AUTH_Negotiate', `${groups.length} DH group identifiers (1..30)`);
  const b = header(AuthType.Common, AuthMsg.Negotiate, tid, 8 + 64);
  b[6] = 0; // SC_C: no secure channel concatenation
  b[7] = 1; // NAPD
  b[8] = 0x01; // AUTHID: DH-HMAC-CHAP
  b[10] = hashes.length;
  b[11] = groups.length;
  hashes.forEach((h, i) => (b[12 + i] = h));
  groups.forEach((g, i) => (b[12 + 30 + i] = g));
  return b;
}

export interface AuthChallenge {
  tid: number;
  hashId: AuthHashId;
  dhgroup: DhGroupId;
  /** sequence number S1 */
  seqnum: number;
  /** challenge C1 (hash length bytes) */
  challenge: Buffer;
  /** the controller's DH public value (empty for the null group) */
  dhValue: Buffer;
}

export interface AuthFailureMsg {
  tid: number;
  reasonCode: number;
  explanation: number;
}

export interface AuthSuccess1 {
  tid: number;
  hl: number;
  /** the controller's response R2 when it authenticated itself */
  response?: Buffer;
}

export type ControllerMessage =
  | ({ kind: 'challenge' } & AuthChallenge)
  | ({ kind: 'success1' } & AuthSuccess1)
  | ({ kind: 'failure1' } & AuthFailureMsg);

const WHAT = 'DH-HMAC-CHAP message';

/**
 * Decodes what Authentication Receive returned. Malformed input throws MalformedError / TruncatedError naming the
 * field; the caller answers such a message with AUTH_Failure2 (incorrect payload).
 */
export function decodeControllerMessage(b: Buffer): ControllerMessage {
  need(b, 8, WHAT);
  const type = b[0]!;
  const id = b[1]!;
  const tid = b.readUInt16LE(4);
  if (id === AuthMsg.Failure1) {
    if (type !== AuthType.DhChap && type !== AuthType.Common)
      throw new MalformedError(WHAT, 'AUTH_Type', `0x${type.toString(16)}`);
    return { kind: 'failure1', tid, reasonCode: b[6]!, explanation: b[7]! };
  }
  if (type !== AuthType.DhChap)
    throw new MalformedError(WHAT, 'AUTH_Type', `0x${type.toString(16)} (expected DH-HMAC-CHAP 01h)`);
  if (id === AuthMsg.Challenge) {
    need(b, 16, 'DH-HMAC-CHAP_Challenge');
    const hl = b[6]!;
    const hashId = b[8]!;
    const dhgroup = b[9]!;
    const dhvlen = b.readUInt16LE(10);
    const seqnum = b.readUInt32LE(12);
    if (!isHashId(hashId))
      throw new MalformedError('DH-HMAC-CHAP_Challenge', 'HASHID', `unknown hash identifier ${hashId}`);
    if (hl !== hashLength(hashId))
      throw new MalformedError(
        'DH-HMAC-CHAP_Challenge',
        'HL',
        `${hl} for hash ${hashId} (needs ${hashLength(hashId)})`,
      );
    if (!isDhGroupId(dhgroup))
      throw new MalformedError('DH-HMAC-CHAP_Challenge', 'DHGID', `unknown DH group ${dhgroup}`);
    if (dhvlen !== dhValueLength(dhgroup)) {
      throw new MalformedError(
        'DH-HMAC-CHAP_Challenge',
        'DHVLEN',
        `${dhvlen} for ${dhGroupName(dhgroup)} (needs ${dhValueLength(dhgroup)})`,
      );
    }
    need(b, 16 + hl + dhvlen, 'DH-HMAC-CHAP_Challenge');
    return {
      kind: 'challenge',
      tid,
      hashId,
      dhgroup,
      seqnum,
      challenge: Buffer.from(b.subarray(16, 16 + hl)),
      dhValue: Buffer.from(b.subarray(16 + hl, 16 + hl + dhvlen)),
    };
  }
  if (id === AuthMsg.Success1) {
    need(b, 16, 'DH-HMAC-CHAP_Success1');
    const hl = b[6]!;
    const rvalid = b[8]! & 1;
    if (rvalid && hl !== 32 && hl !== 48 && hl !== 64)
      throw new MalformedError('DH-HMAC-CHAP_Success1', 'HL', String(hl));
    if (rvalid) need(b, 16 + hl, 'DH-HMAC-CHAP_Success1');
    return { kind: 'success1', tid, hl, ...(rvalid ? { response: Buffer.from(b.subarray(16, 16 + hl)) } : {}) };
  }
  throw new MalformedError(
    WHAT,
    'AUTH_Id',
    `0x${id.toString(16)} (a controller sends Challenge, Success1 or Failure1)`,
  );
}

export interface ReplyFields {
  tid: number;
  /** response R1 */
  response: Buffer;
  /** challenge C2 when the host wants the controller to authenticate itself */
  ctrlChallenge?: Buffer;
  /** sequence number S2 (non-zero with a controller challenge) */
  seqnum: number;
  /** the host's DH public value (empty for the null group) */
  dhValue: Buffer;
}

/** DH-HMAC-CHAP_Reply: R1, then C2 (zeros when unidirectional), then the host's DH value. */
export function encodeReply(f: ReplyFields): Buffer {
  const hl = f.response.length;
  if (f.ctrlChallenge && f.ctrlChallenge.length !== hl)
    throw new EncodeError('DH-HMAC-CHAP_Reply', 'C2 length differs from R1');
  const b = header(AuthType.DhChap, AuthMsg.Reply, f.tid, 16 + 2 * hl + f.dhValue.length);
  b[6] = hl;
  b[8] = f.ctrlChallenge ? 1 : 0; // CVALID
  b.writeUInt16LE(f.dhValue.length, 10);
  b.writeUInt32LE(f.ctrlChallenge ? f.seqnum >>> 0 : 0, 12);
  f.response.copy(b, 16);
  f.ctrlChallenge?.copy(b, 16 + hl);
  f.dhValue.copy(b, 16 + 2 * hl);
  return b;
}

export function encodeSuccess2(tid: number): Buffer {
  return header(AuthType.DhChap, AuthMsg.Success2, tid, 16);
}

/** AUTH_Failure2 (host → controller): reason code 01h with an explanation. */
export function encodeFailure2(tid: number, explanation: number): Buffer {
  const b = header(AuthType.DhChap, AuthMsg.Failure2, tid, 8);
  b[6] = 0x01;
  b[7] = explanation;
  return b;
}

// ------------------------------------------------------------------------------------------------ computations

export interface DhExchange {
  /** the host's public value, left-padded to the group size */
  publicValue: Buffer;
  /** g^xy mod p, left-padded to the group size */
  sharedSecret: Buffer;
}

/**
 * The host half of the ephemeral DH exchange in an RFC 7919 group. The controller's value must lie in
 * 2..p-2 (a value of 0, 1 or p-1 would force a known secret).
 */
export function dhExchange(group: Exclude<DhGroupId, 0>, peerValue: Buffer): DhExchange {
  const bits = GROUP_BITS[group];
  const len = bits / 8;
  const prime = Buffer.from(FFDHE_PRIMES[bits], 'hex');
  if (peerValue.length !== len)
    throw new MalformedError(
      'DH-HMAC-CHAP_Challenge',
      'DH value',
      `${peerValue.length} bytes for ${dhGroupName(group)}`,
    );
  const y = BigInt(`0x${peerValue.toString('hex') || '0'}`);
  const p = BigInt(`0x${FFDHE_PRIMES[bits]}`);
  if (y < 2n || y > p - 2n) throw new MalformedError('DH-HMAC-CHAP_Challenge', 'DH value', 'outside 2..p-2');
  const dh = createDiffieHellman(prime, FFDHE_GENERATOR);
  dh.generateKeys();
  return { publicValue: leftPad(dh.getPublicKey(), len), sharedSecret: leftPad(dh.computeSecret(peerValue), len) };
}

function leftPad(b: Buffer, len: number): Buffer {
  if (b.length >= len) return b;
  return Buffer.concat([Buffer.alloc(len - b.length), b]);
}

/** Augmented challenge Ca = HMAC(H(g^xy mod p), C) (DH groups other than null). */
export function augmentChallenge(hashId: AuthHashId, sharedSecret: Buffer, challenge: Buffer): Buffer {
  const name = HASHES[hashId].name;
  return createHmac(name, createHash(name).update(sharedSecret).digest()).update(challenge).digest();
}

export interface ResponseInput {
  hashId: AuthHashId;
  /** transformed key (transformKey) */
  key: Buffer;
  /** C1 or C2, augmented when a DH group is used */
  challenge: Buffer;
  seqnum: number;
  tid: number;
  hostnqn: string;
  subnqn: string;
}

function response(r: ResponseInput, who: 'HostHost' | 'Controller', first: string, second: string): Buffer {
  const s = Buffer.alloc(4);
  s.writeUInt32LE(r.seqnum >>> 0);
  const t = Buffer.alloc(2);
  t.writeUInt16LE(r.tid & 0xffff);
  const zero = Buffer.alloc(1);
  return createHmac(HASHES[r.hashId].name, r.key)
    .update(r.challenge)
    .update(s)
    .update(t)
    .update(zero) // SC_C
    .update(who, 'latin1')
    .update(first, 'utf8')
    .update(zero)
    .update(second, 'utf8')
    .digest();
}

/** R1 = HMAC(Kh, C1 || S1 || TID || SC_C || "HostHost" || NQNh || 00h || NQNc). */
export function hostResponse(r: ResponseInput): Buffer {
  return response(r, 'HostHost', r.hostnqn, r.subnqn);
}

/** R2 = HMAC(Kc, C2 || S2 || TID || SC_C || "Controller" || NQNc || 00h || NQNh). */
export function controllerResponse(r: ResponseInput): Buffer {
  return response(r, 'Controller', r.subnqn, r.hostnqn);
}

/** Constant-time comparison of the controller's R2 with the expected one. */
export function sameResponse(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
