// In-VM scenarios, the one way: a script next to its test (test/<area>/...-child.ts or in-vm/*.ts) runs inside the
// kernel-host VM with node on the shared checkout, gathers facts, and prints them once as `SCENARIO-REPORT <json>`;
// the test on the host asserts on those facts. In the compiled suite the compiled .js runs with plain node (tsx's
// esbuild work costs 15-25 s per process under TCG); from the sources the .ts runs through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ExecOptions, ExecResult } from './control.js';

const MARK = 'SCENARIO-REPORT ';

/** Inside the VM: prints the report line the host side looks for (once, at the end of the scenario). */
export function printReport(report: object): void {
  process.stdout.write(`${MARK}${JSON.stringify(report)}\n`);
}

export interface ScenarioVm {
  repoRoot: string;
  exec(cmd: string, opts?: ExecOptions): Promise<ExecResult>;
}

export interface ScenarioRun<R> {
  code: number;
  /** everything the scenario printed (stdout and stderr), for failure messages */
  out: string;
  report: R;
}

/**
 * Runs `script` (a URL relative to the caller, without extension: `new URL('./in-vm/x', import.meta.url)`) in the
 * VM with `args`, and returns its report. Throws with the scenario's output when it printed no report.
 */
export async function runScenario<R>(
  vm: ScenarioVm,
  script: URL,
  args: readonly string[],
  timeoutMs: number,
): Promise<ScenarioRun<R>> {
  const ts = existsSync(fileURLToPath(new URL(`${script.href}.ts`)));
  const file = fileURLToPath(new URL(`${script.href}.${ts ? 'ts' : 'js'}`));
  const node = ts ? 'node --import tsx' : 'node';
  const r = await vm.exec(`cd ${vm.repoRoot} && ${node} ${file} ${args.join(' ')} 2>&1`, { timeoutMs });
  const line = r.out.split('\n').find((l) => l.startsWith(MARK));
  if (!line) throw new Error(`${file}: no ${MARK.trim()} line (exit ${r.code}); output:\n${r.out.slice(-6000)}`);
  return { code: r.code, out: r.out, report: JSON.parse(line.slice(MARK.length)) as R };
}
