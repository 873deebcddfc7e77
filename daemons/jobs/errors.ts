// Errors of the job engine itself (an unknown job id, a job that cannot be cancelled, a busy key). The engine runs
// any operation: what a failed job reports is the failing operation's own code (codeOf), or `Failed`.
import { CodedError } from '../common/coded-error.js';

export type JobErrorCode = 'NotFound' | 'Busy' | 'Cancelled';

export class JobError extends CodedError<JobErrorCode> {
  protected readonly dbusPrefix = 'org.nvmexpress.stac.Error.';
}
