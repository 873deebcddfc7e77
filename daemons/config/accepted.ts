// The last accepted configuration: the texts of the main file and drop-ins that the daemon last applied without
// errors, kept in its state directory. A start with a broken file uses it (and says so) instead of guessing what
// a malformed controller= line meant; `systemctl restart` after a typo then keeps the connections it had.
import { join } from 'node:path';
import { writeFileDurable } from '../common/durable-file.js';
import { readFileBoundedSync, CONFIG_FILE_MAX_BYTES } from '../common/bounded-read.js';
import type { ConfigFileText } from './service-config.js';

const FORMAT = 'stas-accepted-config';
const VERSION = 1;

export interface AcceptedTexts {
  readonly texts: ConfigFileText[];
  /** ISO 8601 time of the save */
  readonly savedAt: string;
}

export class AcceptedConfig {
  readonly path: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    stateDir: string,
    prog: string,
    /** the main configuration file these texts belong to (another -f file never uses them) */
    private readonly confFile: string,
  ) {
    this.path = join(stateDir, `${prog}-accepted-config.json`);
  }

  /** The saved texts, undefined when there are none for this file, or the reason they cannot be used. */
  load(): AcceptedTexts | { problem: string } | undefined {
    let text: string;
    try {
      text = readFileBoundedSync(this.path, 8 * CONFIG_FILE_MAX_BYTES);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return { problem: `${this.path}: ${(e as Error).message}` };
    }
    try {
      const d = JSON.parse(text) as {
        format?: unknown;
        version?: unknown;
        confFile?: unknown;
        savedAt?: unknown;
        files?: unknown;
      };
      if (d.format !== FORMAT || d.version !== VERSION || typeof d.savedAt !== 'string' || !Array.isArray(d.files))
        throw new Error(`not a version ${VERSION} ${FORMAT} file`);
      if (d.confFile !== this.confFile) return undefined;
      const texts = (d.files as unknown[]).map((f) => {
        const x = f as { path?: unknown; text?: unknown };
        if (typeof x.path !== 'string' || typeof x.text !== 'string') throw new Error('malformed files entry');
        return { path: x.path, text: x.text };
      });
      return { texts, savedAt: d.savedAt };
    } catch (e) {
      return { problem: `${this.path}: ${(e as Error).message}` };
    }
  }

  /** Saves the texts (mode 0600: they may hold secrets); concurrent saves are serialised, the last one wins. */
  save(texts: readonly ConfigFileText[]): Promise<void> {
    const body = {
      format: FORMAT,
      version: VERSION,
      confFile: this.confFile,
      savedAt: new Date().toISOString(),
      files: texts.map((t) => ({ path: t.path, text: t.text })),
    };
    const next = this.writing.then(() => writeFileDurable(this.path, JSON.stringify(body) + '\n', 0o600));
    this.writing = next.catch(() => undefined);
    return next;
  }
}
