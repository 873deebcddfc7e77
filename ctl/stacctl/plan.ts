// `stacctl plan [--json]`: what stacd's next reconciliation would do with the I/O controller connections, and why
// (org.nvmexpress.stac.Connector1.Plan at /org/nvmexpress/stac/connector). Read-only: nothing is changed.
import type { Command } from 'commander';
import type { DaemonClient } from '../common/client.js';
import { CliError, EXIT } from '../common/client.js';
import { printJson, runCommand, table } from '../common/output.js';
import type { PlanJson, PlanStepJson } from '../../daemons/connector/plan-json.js';

const IFACE = 'org.nvmexpress.stac.Connector1';
const PATH = '/org/nvmexpress/stac/connector';

function parsePlan(text: unknown): PlanJson {
  if (typeof text !== 'string') throw new CliError('stacd: Plan did not return a string', EXIT.FAILURE, 'bad-reply');
  try {
    const p = JSON.parse(text) as PlanJson;
    if (!Array.isArray(p.steps)) throw new Error('no steps');
    return p;
  } catch (e) {
    throw new CliError(`stacd: Plan returned unreadable JSON (${(e as Error).message})`, EXIT.FAILURE, 'bad-reply');
  }
}

export function formatPlan(p: PlanJson): string {
  const head = [
    `disconnect-scope: ${p['disconnect-scope']}   disconnect-trtypes: ${p['disconnect-trtypes'].join('+') || '(none)'}   driver: ${p.driver}`,
    `stafd log pages: ${p.discovery === 'answered' ? 'answered' : 'not answered (controllers learned from stafd are kept)'}`,
  ];
  if (p.steps.length === 0) return [...head, 'Nothing to do: no I/O controllers wanted or connected.'].join('\n');
  const rows = [...p.steps].sort((a, b) => order(a) - order(b));
  return [
    ...head,
    table(rows, [
      { header: 'ACTION', value: (s: PlanStepJson) => s.action.toUpperCase() },
      { header: 'DEVICE', value: (s) => s.device },
      { header: 'TRANSPORT', value: (s) => s.transport },
      { header: 'TRADDR', value: (s) => s.traddr },
      { header: 'TRSVCID', value: (s) => s.trsvcid },
      { header: 'SUBSYSNQN', value: (s) => s.subsysnqn },
      { header: 'WHY', value: (s) => s.reason },
    ]),
  ].join('\n');
}

const ORDER = ['disconnect', 'connect', 'adopt', 'keep'];
const order = (s: PlanStepJson): number => ORDER.indexOf(s.action);

export function register(program: Command, client: DaemonClient): void {
  program
    .command('plan')
    .description('show what the next reconciliation of I/O controller connections would do, and why (changes nothing)')
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const [text] = await client.call(IFACE, 'Plan', '', [], PATH);
        const plan = parsePlan(text);
        if (o.json) printJson(plan);
        else console.log(formatPlan(plan));
      }),
    );
}
