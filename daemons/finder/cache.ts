// The last-known-config cache (§4.10): every DC with its origin and log pages, kept across restarts so that
// get_all_log_pages answers at once while the DCs reconnect. JSON (nvme-stas's pickle cannot be shared anyway),
// written atomically (temporary file, fsync, rename, fsync of the folder). Secrets are never written: a
// configured DC gets its dhchap keys back from the configuration on the first reconfiguration.
import { readFileSync } from 'node:fs';
import { writeFileDurable } from '../common/durable-file.js';
import { join } from 'node:path';
import { isSecretKey, TID, type Cid, type CidValue, type TidContext } from '../common/tid.js';
import type { Origin } from './discovery-controller.js';
import type { Dlpe } from './dlpe.js';

export const CACHE_FILE_NAME = 'last-known-config.json';
const FORMAT = 'stas-stafd-last-known-config';
const VERSION = 1;

/** STATE_DIRECTORY (systemd StateDirectory=), else RUNTIME_DIRECTORY, else /var/lib/stas/stafd. */
export function finderStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const first = (v: string | undefined): string | undefined => (v ? v.split(':')[0] : undefined);
  return first(env.STATE_DIRECTORY) ?? first(env.RUNTIME_DIRECTORY) ?? '/var/lib/stas/stafd';
}

export interface CachedDc {
  tid: TID;
  origin: Origin;
  logPages: Dlpe[];
}

interface FileEntry {
  tid: [string, CidValue][];
  origin: Origin;
  'log-pages': Dlpe[];
}

const ORIGINS = new Set<string>(['configured', 'discovered', 'referral']);

function isCidValue(v: unknown): v is CidValue {
  return (
    typeof v === 'string' ||
    typeof v === 'number' ||
    typeof v === 'boolean' ||
    (Array.isArray(v) && v.every((x) => typeof x === 'number'))
  );
}

function isDlpe(v: unknown): v is Dlpe {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')
  );
}

export class LastKnownConfig {
  readonly path: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.path = join(dir, CACHE_FILE_NAME);
  }

  /** Reads the cache; a missing file is an empty cache, a damaged one is reported through `problems`. */
  load(ctx: TidContext): { dcs: CachedDc[]; problems: string[] } {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { dcs: [], problems: [] };
      return { dcs: [], problems: [`${this.path}: cannot read the cache: ${(e as Error).message}`] };
    }
    if (text.trim() === '') return { dcs: [], problems: [] };
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return { dcs: [], problems: [`${this.path}: not JSON (${(e as Error).message}); starting without cache`] };
    }
    const d = doc as { format?: unknown; version?: unknown; controllers?: unknown };
    if (d?.format !== FORMAT || d.version !== VERSION || !Array.isArray(d.controllers)) {
      return { dcs: [], problems: [`${this.path}: not a version ${VERSION} stafd cache; starting without cache`] };
    }
    const dcs: CachedDc[] = [];
    const problems: string[] = [];
    d.controllers.forEach((raw: unknown, i: number) => {
      const e = raw as Partial<FileEntry>;
      const okTid =
        Array.isArray(e?.tid) &&
        e.tid.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && isCidValue(p[1]));
      const okPages = Array.isArray(e?.['log-pages']) && e['log-pages'].every(isDlpe);
      if (!okTid || !okPages || typeof e.origin !== 'string' || !ORIGINS.has(e.origin)) {
        problems.push(`${this.path}: controllers[${i}] is malformed; skipped`);
        return;
      }
      dcs.push({ tid: TID.fromCid(e.tid as Cid, ctx), origin: e.origin as Origin, logPages: e['log-pages'] as Dlpe[] });
    });
    return { dcs, problems };
  }

  /** Writes the cache atomically; concurrent calls are serialised (the last one wins). */
  save(dcs: readonly CachedDc[]): Promise<void> {
    const body: FileEntry[] = dcs.map((dc) => ({
      tid: dc.tid.asCid().filter(([k]) => !isSecretKey(k)) as [string, CidValue][],
      origin: dc.origin,
      'log-pages': dc.logPages,
    }));
    const text = JSON.stringify({ format: FORMAT, version: VERSION, controllers: body }) + '\n';
    const next = this.writing.then(() => writeFileDurable(this.path, text, 0o600));
    this.writing = next.catch(() => undefined);
    return next;
  }
}
