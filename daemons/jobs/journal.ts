// Write-ahead intent journal for volume mutations. One small JSON file per operation in flight under
// <state>/journal/. The intent is durable (file + directory fsynced) before the first side effect, each
// phase is recorded the same way before the step it announces, and completion removes the file. At
// start-up every file left over is an operation a crash interrupted; the backend finishes or undoes it.
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { writeFileDurable, unlinkDurable } from '../common/durable-file.js';
import { log } from '../common/log.js';

export type JournalValue = string | number | boolean;

export interface JournalEntry {
  id: string;
  pool: string;
  /** operation name, e.g. "flatten", "rollback", "delete" */
  op: string;
  volume: string;
  args: Record<string, JournalValue>;
  /** last phase recorded ("intent" until the first step) */
  phase: string;
  /** facts recorded along the phases (e.g. the backup snapshot's name) */
  data: Record<string, JournalValue>;
  startedAt: string;
}

export interface JournalIntent {
  pool: string;
  op: string;
  volume: string;
  args?: Record<string, JournalValue>;
}

/** Test hook: STAS_CRASH_AT="<op>:<phase>" SIGKILLs this process right after that phase is durable. */
function crashPoint(op: string, phase: string): void {
  const at = process.env.STAS_CRASH_AT;
  if (at && at === `${op}:${phase}`) process.kill(process.pid, 'SIGKILL');
}

export class JournalRecord {
  constructor(
    private readonly journal: Journal,
    readonly entry: JournalEntry,
  ) {}

  /** Records a phase (and facts) durably; call before the side effect the phase announces. */
  async step(phase: string, data: Record<string, JournalValue> = {}): Promise<void> {
    this.entry.phase = phase;
    Object.assign(this.entry.data, data);
    await this.journal.write(this.entry);
    crashPoint(this.entry.op, phase);
  }

  /** The operation reached its end (success, failure without side effects, or undone): forget it. */
  async complete(): Promise<void> {
    await unlinkDurable(this.journal.pathOf(this.entry.id));
  }
}

export class Journal {
  constructor(readonly dir: string) {}

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // temp files of durable writes that never got renamed: the intent they carried was never committed
    for (const f of await readdir(this.dir))
      if (f.endsWith('.tmp')) await unlink(join(this.dir, f)).catch(() => undefined);
  }

  pathOf(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  async write(entry: JournalEntry): Promise<void> {
    await writeFileDurable(this.pathOf(entry.id), JSON.stringify(entry) + '\n', 0o600);
  }

  /** Durably records the intent of an operation; returns the record to step and complete. */
  async begin(intent: JournalIntent): Promise<JournalRecord> {
    const entry: JournalEntry = {
      id: randomUUID(),
      pool: intent.pool,
      op: intent.op,
      volume: intent.volume,
      args: intent.args ?? {},
      phase: 'intent',
      data: {},
      startedAt: new Date().toISOString(),
    };
    await this.write(entry);
    crashPoint(entry.op, 'intent');
    return new JournalRecord(this, entry);
  }

  /** Operations interrupted by a crash, oldest first. Unreadable entries are logged and skipped. */
  async pending(): Promise<JournalRecord[]> {
    let files: string[];
    try {
      files = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: JournalRecord[] = [];
    for (const f of files) {
      if (!f.endsWith('.json')) continue;
      const path = join(this.dir, f);
      try {
        const entry = JSON.parse(await readFile(path, 'utf8')) as JournalEntry;
        if (typeof entry.id !== 'string' || typeof entry.op !== 'string' || typeof entry.volume !== 'string')
          throw new Error('missing id/op/volume');
        entry.args ??= {};
        entry.data ??= {};
        out.push(new JournalRecord(this, entry));
      } catch (e) {
        log().error({ file: path, err: (e as Error).message }, 'journal entry unreadable; left in place');
      }
    }
    return out.sort((a, b) => a.entry.startedAt.localeCompare(b.entry.startedAt));
  }
}
