// The base of stas's typed errors: a stable `code` that clients may rely on, and the D-Bus error name it maps to
// (daemons/dbus/errors.ts turns any error carrying `dbusName` into that error reply). Each layer (volumes, jobs, ...)
// has its own codes and subclasses; code that only needs "which kind of failure" reads `code` through codeOf().

export abstract class CodedError<C extends string = string> extends Error {
  readonly code: C;
  /** e.g. `org.nvmexpress.stac.Error.`: the D-Bus name is the prefix plus the code */
  protected abstract readonly dbusPrefix: string;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = `${code}Error`;
  }

  get dbusName(): string {
    return `${this.dbusPrefix}${this.code}`;
  }
}

/** The code of a CodedError, `fallback` for anything else. */
export function codeOf(e: unknown, fallback = 'Failed'): string {
  return e instanceof CodedError ? e.code : fallback;
}
