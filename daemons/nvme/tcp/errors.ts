// Typed errors of the userspace NVMe/TCP host. Every failure a caller sees is an NvmeTcpError whose `kind`
// classifies it (the CLI maps kinds to exit codes; daemons decide whether to retry).
import type { Cqe } from '../protocol/sqe.js';
import { connectInvalidParameter, statusName } from '../protocol/status.js';

export type FailureKind =
  /** TCP connect refused (nothing listening) */
  | 'refused'
  /** no route, host down, DNS failure, TCP connect timeout */
  | 'unreachable'
  /** the peer accepted TCP but a reply (ICResp, a command completion) did not come in time */
  | 'timeout'
  /** the peer does not speak NVMe/TCP: bad or no ICResp */
  | 'not-nvme'
  /** a command completed with an NVMe error status */
  | 'status'
  /** the connection closed (by the peer, or by us) */
  | 'closed'
  /** the peer sent a PDU that breaks the protocol after the connection was set up */
  | 'protocol'
  /** the peer sent a C2HTermReq */
  | 'term-req'
  /** DH-HMAC-CHAP authentication failed (refused by the controller, or the controller not authenticated) */
  | 'auth'
  /** too many outstanding commands, or a bad argument */
  | 'usage';

export class NvmeTcpError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The TCP connection itself failed (refused / unreachable / timed out). */
export class ConnectFailedError extends NvmeTcpError {
  constructor(
    kind: 'refused' | 'unreachable',
    readonly target: string,
    readonly code: string,
    cause?: unknown,
  ) {
    super(
      kind,
      `cannot connect to ${target}: ${kind === 'refused' ? 'connection refused' : code === 'CONNECT_TIMEOUT' ? 'TCP connect timed out' : `unreachable (${code})`}`,
      { cause },
    );
  }
}

export class NotNvmePeerError extends NvmeTcpError {
  constructor(target: string, detail: string) {
    super('not-nvme', `${target} is not an NVMe/TCP target: ${detail}`);
  }
}

export class TimeoutError extends NvmeTcpError {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super('timeout', `${what}: no reply within ${ms} ms`);
  }
}

export class NvmeStatusError extends NvmeTcpError {
  readonly sct: number;
  readonly sc: number;
  readonly dnr: boolean;
  readonly statusText: string;
  constructor(
    readonly command: string,
    readonly cqe: Cqe,
    fabrics: boolean,
  ) {
    const text = statusName(cqe.sct, cqe.sc, fabrics);
    const extra = fabrics && cqe.sct === 1 && cqe.sc === 0x82 ? `: invalid ${connectInvalidParameter(cqe.dw0)}` : '';
    super('status', `${command} failed: ${text}${extra}${cqe.dnr ? ', do not retry' : ''}`);
    this.sct = cqe.sct;
    this.sc = cqe.sc;
    this.dnr = cqe.dnr;
    this.statusText = text + extra;
  }
}

export class ConnectionClosedError extends NvmeTcpError {
  constructor(
    message: string,
    readonly byHost = false,
  ) {
    super('closed', message);
  }
}

export class TermReqError extends NvmeTcpError {
  constructor(
    readonly target: string,
    readonly fes: number,
    readonly fei: number,
    fesName: string,
  ) {
    super('term-req', `${target} terminated the connection (C2HTermReq: ${fesName}, FEI 0x${fei.toString(16)})`);
  }
}

export class TransportProtocolError extends NvmeTcpError {
  constructor(target: string, detail: string, cause?: unknown) {
    super('protocol', `${target}: protocol error: ${detail}`, { cause });
  }
}

/** Exit codes of `stasadm discover` / `connect-test` per failure class (documented in their --help). */
export const EXIT_CODES = {
  ok: 0,
  other: 1,
  usage: 2,
  unreachable: 3,
  refused: 4,
  notNvme: 5,
  status: 6,
} as const;

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof NvmeTcpError)) return EXIT_CODES.other;
  switch (err.kind) {
    case 'unreachable':
    case 'timeout':
      return EXIT_CODES.unreachable;
    case 'refused':
      return EXIT_CODES.refused;
    case 'not-nvme':
    case 'protocol':
      return EXIT_CODES.notNvme;
    case 'status':
    case 'auth':
      return EXIT_CODES.status;
    case 'usage':
      return EXIT_CODES.usage;
    default:
      return EXIT_CODES.other;
  }
}
