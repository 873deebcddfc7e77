// dhchap-secret= / dhchap-ctrl-secret= values: a DHHC-1 key, or `file:PATH` naming a file that holds one. A key
// file readable by everyone is refused (the key would be no secret). Errors name the option and the file, never
// the key. Used by both drivers: the userspace host gets parsed keys, the kernel gets the DHHC-1 text.
import { statSync } from 'node:fs';
import { KEY_FILE_MAX_BYTES, readFileBoundedSync } from './bounded-read.js';
import { parseDhchapSecret, ProtocolError, type DhchapKeys } from '../nvme/protocol/index.js';

export type DhchapOption = 'dhchap-secret' | 'dhchap-ctrl-secret';

export class DhchapKeyRefError extends Error {
  constructor(
    readonly option: DhchapOption,
    readonly reason: 'file' | 'world-readable' | 'invalid',
    detail: string,
  ) {
    super(`${option}: ${detail}`);
    this.name = 'DhchapKeyRefError';
  }
}

/** The DHHC-1 text a value stands for (read from the file for `file:PATH`), checked. */
export function resolveDhchapSecret(option: DhchapOption, value: string): string {
  let text = value.trim();
  let where = '';
  if (text.startsWith('file:')) {
    const path = text.slice(5);
    where = ` (in ${path})`;
    let mode: number;
    try {
      mode = statSync(path).mode;
      text = readFileBoundedSync(path, KEY_FILE_MAX_BYTES).trim();
    } catch (e) {
      throw new DhchapKeyRefError(
        option,
        'file',
        `cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    if (mode & 0o004) {
      throw new DhchapKeyRefError(
        option,
        'world-readable',
        `key file ${path} is world-readable (mode ${(mode & 0o777).toString(8)}); chmod o-r it`,
      );
    }
  }
  try {
    parseDhchapSecret(text);
  } catch (e) {
    if (e instanceof ProtocolError) throw new DhchapKeyRefError(option, 'invalid', `${e.message}${where}`);
    throw e;
  }
  return text;
}

/** Parsed keys for the userspace host; undefined without a dhchap-secret. */
export function resolveDhchapKeys(secret: string | undefined, ctrlSecret: string | undefined): DhchapKeys | undefined {
  if (!secret) {
    if (ctrlSecret)
      throw new DhchapKeyRefError(
        'dhchap-ctrl-secret',
        'invalid',
        'set without dhchap-secret (the host must authenticate itself first)',
      );
    return undefined;
  }
  const s = parseDhchapSecret(resolveDhchapSecret('dhchap-secret', secret));
  return ctrlSecret
    ? { secret: s, ctrlSecret: parseDhchapSecret(resolveDhchapSecret('dhchap-ctrl-secret', ctrlSecret)) }
    : { secret: s };
}
