// DH-HMAC-CHAP keys by reference: the access path stores the key file's path; the secret is read when nvmet is
// configured and never stored, logged or sent over D-Bus. A file others can read is refused: it would make the
// key no secret.
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../volumes/errors.js';

// NVMe TP 8006 secret representation: DHHC-1:<hash 00-03>:<base64 of key + CRC-32>:
const SECRET_RE = /^DHHC-1:0[0-3]:[A-Za-z0-9+/]{44,}={0,2}:$/;

export async function readKeyFile(path: string): Promise<string> {
  if (!isAbsolute(path))
    throw new InvalidArgumentError(
      `key file "${path}": give an absolute path (stacd does not share your working directory)`,
    );
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`key file ${path}: missing`);
    throw new InvalidArgumentError(`key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!st.isFile()) throw new InvalidArgumentError(`key file ${path}: not a regular file`);
  if ((st.mode & 0o077) !== 0)
    throw new InvalidArgumentError(
      `key file ${path}: readable or writable by group/others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`,
    );
  const text = (await readFile(path, 'utf8')).trim();
  if (!SECRET_RE.test(text))
    throw new InvalidArgumentError(
      `key file ${path}: not a DH-HMAC-CHAP secret (DHHC-1:NN:base64:, as nvme gen-dhchap-key prints)`,
    );
  return text;
}
