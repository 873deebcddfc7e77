// The real stafd and stacd on a private system bus with the project's policy: introspection equals the XML
// files, every method answers gdbus/busctl/dbus-send, the policy separates root from others, bad input is refused
// without harming the daemon, SIGHUP reloads and SIGTERM stops cleanly.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { startDaemon, runCli, type RunningDaemon } from '../harness/daemons.js';
import { makeTestEtc, type TestEtc } from '../harness/env.js';
import { repoRoot } from '../harness/repo.js';
import { runProcess, type ProcessResult } from '../harness/process.js';
import { parseIntrospection } from '../../daemons/dbus/introspection.js';

interface Svc {
  prog: 'stafd' | 'stacd';
  name: string;
  path: string;
  xml: string;
}
const SVCS: Svc[] = [
  { prog: 'stafd', name: 'org.nvmexpress.staf', path: '/org/nvmexpress/staf', xml: 'org.nvmexpress.staf.xml' },
  { prog: 'stacd', name: 'org.nvmexpress.stac', path: '/org/nvmexpress/stac', xml: 'org.nvmexpress.stac.xml' },
];
const TID7 = [
  'tcp',
  '192.0.2.1',
  '8009',
  'nqn.2014-08.org.nvmexpress.discovery',
  '',
  '',
  'nqn.2014-08.org.nvmexpress:uuid:none',
];

let bus: PrivateBus;
let etc: TestEtc;
const daemons = new Map<string, RunningDaemon>();

function sh(cmd: string, args: string[], opts: { user?: string } = {}): Promise<ProcessResult> {
  return runProcess(cmd, args, { timeoutMs: 15_000, ...opts });
}

/** The three D-Bus command-line clients, on the private bus. */
const busctl = (args: string[], opts: { user?: string } = {}): Promise<ProcessResult> =>
  sh('busctl', [`--address=${bus.address}`, ...args], opts);
const gdbusCall = (s: Svc, method: string, args: string[] = [], opts: { user?: string } = {}): Promise<ProcessResult> =>
  sh('gdbus', ['call', '--address', bus.address, '-d', s.name, '-o', s.path, '-m', method, ...args], opts);
const dbusSend = (s: Svc, method: string, args: string[] = []): Promise<ProcessResult> =>
  sh('dbus-send', [`--bus=${bus.address}`, '--print-reply=literal', `--dest=${s.name}`, s.path, method, ...args]);
/** busctl get-property of the daemon's .debug interface */
const debugProperty = (s: Svc, name: string, opts: { user?: string } = {}): Promise<ProcessResult> =>
  busctl(['get-property', s.name, s.path, `${s.name}.debug`, name], opts);
const ctlOf = (s: Svc): 'stafctl' | 'stacctl' => (s.prog === 'stafd' ? 'stafctl' : 'stacctl');

/** Members of an introspection document, normalised for comparison (child nodes and standard interfaces aside). */
function members(xml: string): string[] {
  const out: string[] = [];
  for (const i of parseIntrospection(xml).interfaces) {
    if (i.name.startsWith('org.freedesktop.DBus.')) continue;
    for (const m of i.methods)
      out.push(`${i.name}.${m.name}(${m.args.map((a) => `${a.direction} ${a.type} ${a.name}`).join(', ')})`);
    for (const p of i.properties) out.push(`${i.name}.${p.name}: ${p.type} ${p.access}`);
    for (const s of i.signals) out.push(`${i.name}.${s.name}!(${s.args.map((a) => `${a.type} ${a.name}`).join(', ')})`);
  }
  return out.sort();
}

before(async () => {
  bus = await startPrivateBus();
  etc = makeTestEtc();
  for (const s of SVCS) {
    daemons.set(
      s.prog,
      await startDaemon(s.prog, {
        busAddress: bus.address,
        confFile: s.prog === 'stafd' ? etc.stafdConf : etc.stacdConf,
        env: etc.env,
      }),
    );
  }
});

after(async () => {
  for (const d of daemons.values()) await d.stop().catch(() => undefined);
  await bus?.stop();
  etc?.cleanup();
});

for (const s of SVCS) {
  describe(`${s.prog} on the bus`, () => {
    const file = () => readFileSync(join(repoRoot(), 'dbus-interfaces', s.xml), 'utf8');

    test('Introspect returns the XML file verbatim (dbus-send) and gdbus sees the same members', async () => {
      const r = await dbusSend(s, 'org.freedesktop.DBus.Introspectable.Introspect');
      assert.equal(r.code, 0, r.stderr);
      // child objects (stacd's connector, storage and schedules) are listed as <node/> elements after the file's text
      const children = [...r.stdout.matchAll(/^\s*<node name="([^"]+)"\/>$/gm)].map((m) => m[1]);
      assert.deepEqual(children, s.prog === 'stacd' ? ['connector', 'schedules', 'storage'] : []);
      assert.equal(r.stdout.replace(/^\s*<node name="[^"]+"\/>\n/gm, '').trim(), file().trim());
      const g = await sh('gdbus', [
        'introspect',
        '--address',
        bus.address,
        '--dest',
        s.name,
        '--object-path',
        s.path,
        '--xml',
      ]);
      assert.equal(g.code, 0, g.stderr);
      assert.deepEqual(members(g.stdout), members(file()));
    });

    test('busctl introspect lists exactly the members of the XML file', async () => {
      const r = await busctl(['introspect', '--xml-interface', s.name, s.path]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(members(r.stdout), members(file()));
      const table = await busctl(['introspect', s.name, s.path, `${s.name}.debug`]);
      assert.match(table.stdout, /\.tron\s+property\s+b\s+(true|false)\s+emits-change writable/);
      assert.match(table.stdout, /\.log_level\s+property\s+s\s+"INFO"/);
    });

    test('every method answers gdbus, busctl and dbus-send', async () => {
      const lc = await gdbusCall(s, `${s.name}.list_controllers`, ['true']);
      assert.equal(lc.code, 0, lc.stderr);
      assert.equal(lc.stdout.trim(), '(@aa{ss} [],)');
      const pi = await busctl(['--json=short', 'call', s.name, s.path, `${s.name}.debug`, 'process_info']);
      assert.equal(pi.code, 0, pi.stderr);
      const info = JSON.parse((JSON.parse(pi.stdout) as { data: [string] }).data[0]) as Record<string, unknown>;
      assert.deepEqual(Object.keys(info).slice(0, 12), [
        'tron',
        'log-level',
        'hostnqn',
        'hostid',
        'hostkey',
        'symname',
        'last known config file',
        'config soak timer',
        'kernel support.TP8013',
        'kernel support.host_iface',
        'terminator.audit timer',
        ...(s.prog === 'stafd' ? ['avahi'] : Object.keys(info).slice(11, 12)),
      ]);
      assert.equal(info.hostnqn, etc.hostnqn);
      assert.equal(info.hostid, etc.hostid);
      assert.equal(info.tron, false);
      assert.equal(info['log-level'], 'INFO');
      const ci = await dbusSend(
        s,
        `${s.name}.debug.controller_info`,
        TID7.map((v) => `string:${v}`),
      );
      assert.equal(ci.code, 0, ci.stderr);
      assert.equal(ci.stdout.trim(), '{}');
      if (s.prog === 'stafd') {
        const glp = await busctl(['--json=short', 'call', s.name, s.path, s.name, 'get_log_pages', 'sssssss', ...TID7]);
        assert.equal(glp.code, 0, glp.stderr);
        assert.deepEqual(JSON.parse(glp.stdout), { type: 'aa{ss}', data: [[]] });
        const all = await gdbusCall(s, `${s.name}.get_all_log_pages`, ['false']);
        assert.equal(all.code, 0, all.stderr);
        assert.equal(all.stdout.trim(), "('[]',)");
      }
    });

    test('root may set tron; others may read but get AccessDenied on Properties.Set', async () => {
      const get = await debugProperty(s, 'tron', { user: 'nobody' });
      assert.equal(get.code, 0, get.stderr);
      assert.equal(get.stdout.trim(), 'b false');
      const ls = await runCli(ctlOf(s), ['ls', '--json'], {
        busAddress: bus.address,
        user: 'nobody',
      });
      assert.equal(ls.code, 0, ls.stderr);
      assert.deepEqual(JSON.parse(ls.stdout), []);
      const set = await gdbusCall(s, 'org.freedesktop.DBus.Properties.Set', [`${s.name}.debug`, 'tron', '<true>'], {
        user: 'nobody',
      });
      assert.notEqual(set.code, 0);
      assert.match(set.stderr, /AccessDenied/);
      const cli = await runCli(ctlOf(s), ['tron'], {
        busAddress: bus.address,
        user: 'nobody',
      });
      assert.equal(cli.code, 4, cli.stderr);
      assert.match(cli.stderr, /access denied/);
      const rootSet = await runCli(ctlOf(s), ['tron'], { busAddress: bus.address });
      assert.equal(rootSet.code, 0, rootSet.stderr);
      assert.equal(rootSet.stdout.trim(), 'tron = True');
      const lvl = await debugProperty(s, 'log_level');
      assert.equal(lvl.stdout.trim(), 's "DEBUG"');
      const off = await runCli(ctlOf(s), ['troff', '--json'], {
        busAddress: bus.address,
      });
      assert.deepEqual(JSON.parse(off.stdout), { tron: false });
    });

    test('bad input gets an error reply or an empty answer, and the daemon keeps running', async () => {
      const ro = await busctl(['set-property', s.name, s.path, `${s.name}.debug`, 'log_level', 's', 'DEBUG']);
      assert.notEqual(ro.code, 0);
      assert.match(ro.stderr, /not writable/);
      const wrongType = await gdbusCall(s, 'org.freedesktop.DBus.Properties.Set', [
        `${s.name}.debug`,
        'tron',
        '<"yes">',
      ]);
      assert.match(wrongType.stderr, /InvalidArgs/);
      const wrongSig = await busctl(['call', s.name, s.path, s.name, 'list_controllers', 's', 'true']);
      assert.notEqual(wrongSig.code, 0);
      assert.match(wrongSig.stderr, /does not exist|Unknown method|UnknownMethod|Invalid/i);
      const fewArgs = await busctl([
        'call',
        s.name,
        s.path,
        `${s.name}.debug`,
        'controller_info',
        'ss',
        'tcp',
        '1.2.3.4',
      ]);
      assert.notEqual(fewArgs.code, 0);
      const huge = 'x'.repeat(100_000); // near the per-argument limit of exec (128 KiB)
      const big = await busctl([
        'call',
        s.name,
        s.path,
        `${s.name}.debug`,
        'controller_info',
        'sssssss',
        huge,
        huge,
        huge,
        '',
        '',
        '',
        '',
      ]);
      assert.equal(big.code, 0, big.stderr);
      assert.equal(big.stdout.trim(), 's "{}"');
      const unknown = await gdbusCall(s, `${s.name}.no_such_method`);
      assert.match(unknown.stderr, /UnknownMethod/);
      const ping = await busctl(['call', s.name, s.path, 'org.freedesktop.DBus.Peer', 'Ping']);
      assert.equal(ping.code, 0, ping.stderr);
      assert.equal(daemons.get(s.prog)!.proc.exitCode, null);
    });
  });
}

describe('signals', () => {
  test('SIGHUP re-reads the config: tron= takes effect; an unreadable file keeps the running config', async () => {
    const d = daemons.get('stacd')!;
    const stac = SVCS.find((s) => s.prog === 'stacd')!;
    etc.write('stacd.conf', '[Global]\ntron=true\n');
    d.signal('SIGHUP');
    await d.waitForLog('reload: applying');
    const lvl = await debugProperty(stac, 'log_level');
    assert.equal(lvl.stdout.trim(), 's "DEBUG"');
    // replace the file by a directory: it cannot be read at all
    rmSync(etc.stacdConf);
    mkdirSync(etc.stacdConf);
    d.signal('SIGHUP');
    const line = await d.waitForLog('keeping the running configuration');
    assert.match(line, /stacd\.conf/);
    const still = await debugProperty(stac, 'tron');
    assert.equal(still.stdout.trim(), 'b true');
    rmSync(etc.stacdConf, { recursive: true });
    etc.write('stacd.conf', '[Global]\n');
  });

  test('a SIGHUP that arrives while the daemon is still starting is applied after start-up, not fatal', async () => {
    const early = makeTestEtc();
    try {
      const bus2 = await startPrivateBus();
      try {
        const d = await startDaemon('stacd', {
          busAddress: bus2.address,
          confFile: early.stacdConf,
          env: early.env,
          waitName: false,
        });
        // as soon as the name is owned (start-up of the engines may still be running)
        const deadline = Date.now() + 20_000;
        while (
          !d.output().includes('"name":"stacd"') ||
          (
            await sh('dbus-send', [
              `--bus=${bus2.address}`,
              '--print-reply',
              '--dest=org.freedesktop.DBus',
              '/org/freedesktop/DBus',
              'org.freedesktop.DBus.GetNameOwner',
              'string:org.nvmexpress.stac',
            ])
          ).code !== 0
        ) {
          assert.ok(Date.now() < deadline, 'stacd did not own its name within 20 s');
          await new Promise((r) => setTimeout(r, 20));
        }
        d.signal('SIGHUP');
        await d.waitForLog('reload: configuration unchanged', 20_000);
        assert.equal(d.proc.exitCode, null);
        assert.equal(d.proc.signalCode, null);
        assert.equal(await d.stop(), 0);
      } finally {
        await bus2.stop();
      }
    } finally {
      early.cleanup();
    }
  });

  test('SIGTERM stops both daemons cleanly (exit 0) and releases their names', async () => {
    for (const s of SVCS) {
      const code = await daemons.get(s.prog)!.stop();
      assert.equal(code, 0);
      const r = await busctl(['status', s.name]);
      assert.notEqual(r.code, 0);
    }
    const cli = await runCli('stafctl', ['ls'], { busAddress: bus.address });
    assert.equal(cli.code, 3);
    assert.match(cli.stderr, /stafd is not running/);
  });
});
