// Typed errors of the kernel fabrics path. The kernel answers a connect with an errno on write(); these turn
// it into a message a user can act on, while keeping the code for callers that branch on it.

/** An option value that would corrupt the comma-separated option string, or an option the kernel lacks. */
export class FabricsOptionError extends Error {
  constructor(
    readonly option: string,
    reason: string,
  ) {
    super(`nvme-fabrics option '${option}': ${reason}`);
    this.name = 'FabricsOptionError';
  }
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EINVAL: 'invalid or unsupported connect option (the kernel rejected the option string)',
  EALREADY: 'a controller with these parameters already exists (use duplicate_connect to force)',
  ECONNREFUSED: 'connection refused (nothing listens at traddr:trsvcid)',
  ECONNRESET: 'connection reset by the controller',
  EIO: 'the controller rejected the Connect command (unknown subsystem NQN, host not allowed, or I/O error)',
  ETIMEDOUT: 'timed out connecting to the controller',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'host_traddr is not an address of this host',
  ENODEV: 'no such device (host_iface unknown, or transport module not loaded)',
  ENOENT: '/dev/nvme-fabrics missing (load the nvme-fabrics and transport modules)',
  EACCES: 'permission denied (root is needed)',
  EPERM: 'operation not permitted (root is needed)',
  EKEYREJECTED: 'authentication failed (DH-HMAC-CHAP key rejected)',
  ENOMEM: 'out of memory',
  EBUSY: 'device busy',
};

/** A failed kernel operation (connect, delete, sysfs read) with its errno code. */
export class FabricsError extends Error {
  constructor(
    readonly operation: string,
    readonly code: string,
    readonly detail: string,
  ) {
    super(`${operation}: ${ERRNO_TEXT[code] ?? detail} [${code}]`);
    this.name = 'FabricsError';
  }

  static from(operation: string, e: unknown): FabricsError {
    const err = e as NodeJS.ErrnoException;
    // libuv has no name for EKEYREJECTED (129 on Linux): the kernel's answer to a refused DH-HMAC-CHAP key
    const code = err.errno === -129 ? 'EKEYREJECTED' : (err.code ?? 'EUNKNOWN');
    return new FabricsError(operation, code, err.message ?? String(e));
  }
}

/**
 * A connect with dhchap_secret that the kernel refused with EIO: with authentication in play, a refused key (or a
 * controller that failed the host's dhchap_ctrl_secret challenge) is the usual cause, which EIO alone hides.
 */
export class FabricsAuthError extends FabricsError {
  constructor(operation: string, detail: string) {
    super(operation, 'EIO', detail);
    this.name = 'FabricsAuthError';
    this.message = `${operation}: DH-HMAC-CHAP authentication failed or the controller rejected the Connect command (check dhchap-secret / dhchap-ctrl-secret) [EIO]`;
  }
}
