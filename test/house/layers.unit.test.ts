// The layers the README draws hold: no import circles in daemons/ and ctl/, stafd's finder and stacd's connector
// share code only through daemons/controllers/, and the lint configuration refuses an import across a boundary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';
import { repoRoot } from '../harness/repo.js';
import { circles, crossings, importGraph } from './import-graph.js';

test('no import circles in daemons/ and ctl/', () => {
  const graph = importGraph(repoRoot(), ['daemons', 'ctl']);
  assert.ok(graph.size > 100, `only ${graph.size} modules found: the graph reader is broken`);
  assert.deepEqual(circles(graph), []);
});

test('the finder and the connector do not import each other', () => {
  assert.deepEqual(crossings(importGraph(repoRoot(), ['daemons']), 'daemons/finder/', 'daemons/connector/'), []);
});

test('the circle finder finds a circle', () => {
  const g = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['a.ts']],
  ]);
  assert.deepEqual(circles(g), [['a.ts', 'b.ts', 'c.ts']]);
});

/** Lints `code` as if it were the file `filePath` of the repository, with the import rules only (no type info). */
async function importErrors(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: repoRoot(),
    overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
    ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
  });
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

test('lint refuses a codec that imports from above nvme/protocol', async () => {
  const errors = await importErrors(
    'daemons/nvme/protocol/new-codec.ts',
    "import { log } from '../../common/log.js';\n",
  );
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /pure codecs/);
  assert.deepEqual(
    await importErrors('daemons/nvme/protocol/new-codec.ts', "import { crc32c } from './crc32c.js';\n"),
    [],
  );
});

test('lint refuses a CLI that imports a daemon engine', async () => {
  const errors = await importErrors(
    'ctl/stacctl/new-command.ts',
    "import { Connector } from '../../daemons/connector/connector.js';\n",
  );
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /over D-Bus only/);
});

test('lint refuses an import between the finder and the connector', async () => {
  const errors = await importErrors('daemons/connector/new-part.ts', "import { Finder } from '../finder/index.js';\n");
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /daemons\/controllers/);
});
