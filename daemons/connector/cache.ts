// stacd's last-known-config cache (§5.7): the IOCs it tracks (TID without secrets, origin, whether stas made the
// connection, last device and DLPE), so that a restart re-adopts every connection at once instead of waiting for
// stafd, and never disconnects because stafd has not answered yet. JSON, written atomically (temporary file,
// fsync, rename, fsync of the folder).
import { readFileSync } from 'node:fs';
import { writeFileDurable } from '../common/durable-file.js';
import { join } from 'node:path';
import { isSecretKey, TID, type Cid, type CidValue, type TidContext } from '../common/tid.js';
import type { DesiredOrigin } from './planner.js';
import type { Dlpe } from '../controllers/dlpe.js';

export const CACHE_FILE_NAME = 'last-known-config.json';
const FORMAT = 'stas-stacd-last-known-config';
const VERSION = 1;

export interface CachedIoc {
  tid: TID;
  origin: DesiredOrigin;
  madeByStas: boolean;
  device: string;
  dlpe?: Dlpe;
}

interface FileEntry {
  tid: [string, CidValue][];
  origin: DesiredOrigin;
  'made-by-stas': boolean;
  device: string;
  dlpe: Dlpe | null;
}

const isCidValue = (v: unknown): v is CidValue =>
  typeof v === 'string' ||
  typeof v === 'number' ||
  typeof v === 'boolean' ||
  (Array.isArray(v) && v.every((x) => typeof x === 'number'));
const isDlpe = (v: unknown): v is Dlpe =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

export class IocCache {
  readonly path: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.path = join(dir, CACHE_FILE_NAME);
  }

  load(ctx: TidContext): { iocs: CachedIoc[]; problems: string[] } {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { iocs: [], problems: [] };
      return { iocs: [], problems: [`${this.path}: cannot read the cache: ${(e as Error).message}`] };
    }
    let doc: { format?: unknown; version?: unknown; controllers?: unknown };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch (e) {
      return { iocs: [], problems: [`${this.path}: not JSON (${(e as Error).message}); starting without cache`] };
    }
    if (doc?.format !== FORMAT || doc.version !== VERSION || !Array.isArray(doc.controllers)) {
      return { iocs: [], problems: [`${this.path}: not a version ${VERSION} stacd cache; starting without cache`] };
    }
    const iocs: CachedIoc[] = [];
    const problems: string[] = [];
    doc.controllers.forEach((raw: unknown, i: number) => {
      const e = raw as Partial<FileEntry>;
      const okTid =
        Array.isArray(e?.tid) &&
        e.tid.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && isCidValue(p[1]));
      if (
        !okTid ||
        (e.origin !== 'configured' && e.origin !== 'discovered') ||
        typeof e['made-by-stas'] !== 'boolean' ||
        (e.dlpe !== null && !isDlpe(e.dlpe))
      ) {
        problems.push(`${this.path}: controllers[${i}] is malformed; skipped`);
        return;
      }
      iocs.push({
        tid: TID.fromCid(e.tid as Cid, ctx),
        origin: e.origin,
        madeByStas: e['made-by-stas'],
        device: typeof e.device === 'string' && /^nvme(\d+|\?)$/.test(e.device) ? e.device : 'nvme?',
        ...(e.dlpe ? { dlpe: e.dlpe } : {}),
      });
    });
    return { iocs, problems };
  }

  /** Atomic write; concurrent calls are serialised (the last one wins). */
  save(iocs: readonly CachedIoc[]): Promise<void> {
    const body: FileEntry[] = iocs.map((c) => ({
      tid: c.tid.asCid().filter(([k]) => !isSecretKey(k)) as [string, CidValue][],
      origin: c.origin,
      'made-by-stas': c.madeByStas,
      device: c.device,
      dlpe: c.dlpe ?? null,
    }));
    const text = JSON.stringify({ format: FORMAT, version: VERSION, controllers: body }) + '\n';
    const next = this.writing.then(() => writeFileDurable(this.path, text, 0o600));
    this.writing = next.catch(() => undefined);
    return next;
  }
}
