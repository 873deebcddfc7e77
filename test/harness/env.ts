// A throw-away /etc for one test: host identity and config files, so tests never touch the machine's /etc.
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestEtc {
  dir: string;
  etc: string;
  stafdConf: string;
  stacdConf: string;
  sysConf: string;
  hostnqn: string;
  hostid: string;
  /** environment for daemons and CLIs using this /etc and private state directories */
  env: Record<string, string>;
  write(file: 'stafd.conf' | 'stacd.conf' | 'sys.conf', text: string): void;
  cleanup(): void;
}

export function makeTestEtc(opts: { stafd?: string; stacd?: string; sys?: string } = {}): TestEtc {
  const dir = mkdtempSync(join(tmpdir(), 'stas-etc-'));
  const etc = join(dir, 'etc');
  mkdirSync(join(etc, 'stas'), { recursive: true });
  mkdirSync(join(etc, 'nvme'), { recursive: true });
  const hostid = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
  const hostnqn = `nqn.2014-08.org.nvmexpress:uuid:${hostid}`;
  writeFileSync(join(etc, 'nvme', 'hostnqn'), hostnqn + '\n');
  writeFileSync(join(etc, 'nvme', 'hostid'), hostid + '\n');
  const t: TestEtc = {
    dir,
    etc,
    stafdConf: join(etc, 'stas', 'stafd.conf'),
    stacdConf: join(etc, 'stas', 'stacd.conf'),
    sysConf: join(etc, 'stas', 'sys.conf'),
    hostnqn,
    hostid,
    env: { STAS_ETC: etc, STATE_DIRECTORY: join(dir, 'state'), RUNTIME_DIRECTORY: join(dir, 'run') },
    write(file, text) {
      writeFileSync(join(etc, 'stas', file), text);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  t.write('stafd.conf', opts.stafd ?? '[Global]\n');
  t.write('stacd.conf', opts.stacd ?? '[Global]\n');
  t.write('sys.conf', opts.sys ?? '[Host]\n');
  return t;
}
