// Typed errors of the pure codec layer. Decoders never throw anything else, so a caller can tell
// "the peer sent bytes we cannot accept" (a ProtocolError) from a bug in our own code.

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Fewer bytes than the structure needs. */
export class TruncatedError extends ProtocolError {
  constructor(
    readonly what: string,
    readonly needed: number,
    readonly got: number,
  ) {
    super(`${what}: truncated, need ${needed} bytes, got ${got}`);
  }
}

/** A field holds a value the codec cannot accept (names the field and the value). */
export class MalformedError extends ProtocolError {
  constructor(
    readonly what: string,
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${what}: bad ${field}: ${detail}`);
  }
}

/** A header or data digest (CRC32C) did not match. */
export class DigestError extends ProtocolError {
  constructor(
    readonly kind: 'header' | 'data',
    readonly expected: number,
    readonly actual: number,
  ) {
    super(
      `${kind} digest mismatch: computed 0x${expected.toString(16).padStart(8, '0')}, received 0x${actual.toString(16).padStart(8, '0')}`,
    );
  }
}

/** An argument given to an encoder is out of range (our caller's mistake, reported the same typed way). */
export class EncodeError extends ProtocolError {
  constructor(what: string, detail: string) {
    super(`${what}: ${detail}`);
  }
}

export function need(buf: Uint8Array, bytes: number, what: string): void {
  if (buf.length < bytes) throw new TruncatedError(what, bytes, buf.length);
}
