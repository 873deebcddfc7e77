// Volume and snapshot names. The same rule for both, so a name can be used as a file name component
// (qcow2 bases are `<id>@<snap>.qcow2`), an rbd image/snapshot name and part of a D-Bus object path (escaped).
import { InvalidArgumentError } from './errors.js';

export const MAX_NAME_LENGTH = 128;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Returns the name if valid, else throws InvalidArgumentError saying which rule it breaks. */
export function validateName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string') throw new InvalidArgumentError(`${field}: must be a string`);
  if (name.length === 0) throw new InvalidArgumentError(`${field}: must not be empty`);
  if (name.length > MAX_NAME_LENGTH)
    throw new InvalidArgumentError(`${field}: ${name.length} characters, at most ${MAX_NAME_LENGTH} allowed`);
  if (name.includes('/')) throw new InvalidArgumentError(`${field}: "${name}" must not contain "/"`);
  if (name.includes('..')) throw new InvalidArgumentError(`${field}: "${name}" must not contain ".."`);
  if (!NAME_RE.test(name))
    throw new InvalidArgumentError(
      `${field}: "${name}" must start with a letter or digit and contain only letters, digits, ".", "_" and "-"`,
    );
  return name;
}

/** Snapshot names the connector creates itself (backup before rollback) start with this prefix. */
export const AUTO_BACKUP_PREFIX = 'auto-before-rollback-';
