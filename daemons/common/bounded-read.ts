// Reading configuration and key files with a size cap: `nqn=file:///dev/zero` or a 2 GB file dropped into a
// drop-in folder must cost an error message, not the daemon's memory. The file is read in chunks up to the cap;
// a file (or device) with more than `maxBytes` bytes throws FileTooLargeError without reading the rest.
import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** stafd.conf, stacd.conf, their drop-ins, sys.conf */
export const CONFIG_FILE_MAX_BYTES = 4 * 1024 * 1024;
/** hostnqn, hostid, hostkey, file:// targets of sys.conf and key references */
export const KEY_FILE_MAX_BYTES = 64 * 1024;

export class FileTooLargeError extends Error {
  override readonly name = 'FileTooLargeError';
  readonly code = 'EFBIG';
  constructor(
    readonly path: string,
    readonly maxBytes: number,
  ) {
    super(`${path} is larger than ${maxBytes} bytes; not read`);
  }
}

const CHUNK = 64 * 1024;

/** Reads at most `maxBytes` of `path` as UTF-8; throws FileTooLargeError when there is more, fs errors as they are. */
export function readFileBoundedSync(path: string, maxBytes: number): string {
  const fd = openSync(path, 'r');
  try {
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, maxBytes + 1 - total));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      parts.push(buf.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new FileTooLargeError(path, maxBytes);
    }
    return Buffer.concat(parts, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Same as readFileBoundedSync without blocking the event loop. */
export async function readFileBounded(path: string, maxBytes: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, maxBytes + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      parts.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw new FileTooLargeError(path, maxBytes);
    }
    return Buffer.concat(parts, total).toString('utf8');
  } finally {
    await fh.close();
  }
}
