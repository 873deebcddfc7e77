// Typed errors of the volume layer. Each class carries a stable `code` that the D-Bus adapter maps to
// `org.nvmexpress.stac.Error.<code>` and the CLI prints; messages name the volume/snapshot/field concerned.
import { CodedError } from '../common/coded-error.js';

export type VolumeErrorCode =
  'NotFound' | 'AlreadyExists' | 'Busy' | 'LimitExceeded' | 'InvalidArgument' | 'NotSupported' | 'Cancelled' | 'Failed';

export const STORAGE_ERROR_PREFIX = 'org.nvmexpress.stac.Error.';
/** answered by storage and schedule objects while stacd opens its pools and replays its journal at start */
export const STORAGE_STARTING_ERROR = `${STORAGE_ERROR_PREFIX}Starting`;

export class VolumeError extends CodedError<VolumeErrorCode> {
  protected readonly dbusPrefix = STORAGE_ERROR_PREFIX;
}

export class NotFoundError extends VolumeError {
  constructor(message: string) {
    super('NotFound', message);
  }
}
export class AlreadyExistsError extends VolumeError {
  constructor(message: string) {
    super('AlreadyExists', message);
  }
}
export class BusyError extends VolumeError {
  constructor(message: string) {
    super('Busy', message);
  }
}
export class LimitExceededError extends VolumeError {
  constructor(message: string) {
    super('LimitExceeded', message);
  }
}
export class InvalidArgumentError extends VolumeError {
  constructor(message: string) {
    super('InvalidArgument', message);
  }
}
export class NotSupportedError extends VolumeError {
  constructor(message: string) {
    super('NotSupported', message);
  }
}
export class CancelledError extends VolumeError {
  constructor(message = 'operation cancelled') {
    super('Cancelled', message);
  }
}
/** A backend tool failed in a way that has no more specific meaning (the message carries its stderr). */
export class BackendError extends VolumeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Failed', message, options);
  }
}

export function isVolumeError(e: unknown): e is VolumeError {
  return e instanceof VolumeError;
}

/** Any thrown value as a VolumeError (unknown failures become BackendError). */
export function toVolumeError(e: unknown): VolumeError {
  if (e instanceof VolumeError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new BackendError(msg, { cause: e });
}
