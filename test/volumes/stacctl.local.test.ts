// stacctl volume/snapshot/job commands in a child process against the D-Bus adapter on a private bus,
// over real qcow2 files: tables, --json, sizes with units, waiting for jobs, --no-wait + job wait,
// bad input with named errors and exit codes, nothing changed by refused commands.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPrivateBus, type PrivateBus } from '../harness/bus.js';
import { runSiblingModule, type ProcessResult } from '../harness/process.js';
import { connectSystemBus, waitConnected, requestBusName, type MessageBus } from '../../daemons/dbus/bus.js';
import { StorageDBus } from '../../daemons/volumes/dbus/storage-objects.js';
import { openQcow2, qemuReads, qemuWrite, type Qcow2Fixture } from './helpers.js';

let bus: PrivateBus;
let server: MessageBus;
let fx: Qcow2Fixture;
let adapter: StorageDBus;

/** the storage commands of stacctl (stacctl-driver.ts) in a child process; jobs may take a while */
function stacctl(...args: string[]): Promise<ProcessResult> {
  return runSiblingModule(import.meta.url, 'stacctl-driver', args, {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address },
    timeoutMs: 120_000,
  });
}

before(async () => {
  bus = await startPrivateBus();
  process.env.DBUS_SYSTEM_BUS_ADDRESS = bus.address;
  server = connectSystemBus();
  await waitConnected(server);
  await requestBusName(server, 'org.nvmexpress.stac');
  fx = await openQcow2();
  adapter = new StorageDBus(server, fx.service, fx.jobs);
  await adapter.start();
});
after(async () => {
  adapter?.stop();
  server?.disconnect();
  await bus?.stop();
  await fx?.cleanup();
});

test('stacctl volume/snapshot/job: a whole lifecycle', async () => {
  let r = await stacctl(
    'volume',
    'create',
    'web',
    '--size',
    '1.5GiB',
    '--qos-iops',
    '500',
    '--qos-bps',
    '50M',
    '--priority',
    'high',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /created web \(1\.5 GiB, pool default\)/);
  await qemuWrite(fx.file('web'), '0xab', '0', '4M');
  r = await stacctl('volume', 'ls');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NAME\s+POOL\s+BACKEND\s+SIZE\s+ALLOCATED\s+SNAPS\s+PARENT\n/);
  assert.match(r.stdout, /\nweb\s+default\s+qcow2\s+1\.5 GiB/);
  r = await stacctl('volume', 'show', 'web', '--json');
  const shown = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(shown.Size, 1.5 * 1024 ** 3);
  assert.equal(shown.QosIops, 500);
  assert.equal(shown.QosBps, 50 * 1024 ** 2);
  r = await stacctl('volume', 'show', 'web');
  assert.match(r.stdout, /bandwidth:\s+50 MiB\/s/);

  assert.equal((await stacctl('snapshot', 'create', 'web', 'golden')).code, 0);
  assert.equal((await stacctl('snapshot', 'protect', 'web', 'golden')).code, 0);
  r = await stacctl('snapshot', 'ls', 'web');
  assert.match(r.stdout, /golden\s+1\.5 GiB\s+yes/);
  r = await stacctl('volume', 'clone', 'web', 'golden', 'web2');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /clone web@golden -> web2: done \(web2\)/);
  assert.ok(await qemuReads(fx.file('web2'), '0xab', '0', '4M'));

  // --no-wait prints the job, job wait finishes it
  r = await stacctl('volume', 'flatten', 'web2', '--no-wait', '--json');
  const { job } = JSON.parse(r.stdout) as { job: string };
  r = await stacctl('job', 'wait', job, '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { state: string }).state, 'succeeded');
  r = await stacctl('job', 'ls');
  assert.match(r.stdout, new RegExp(`${job}\\s+flatten\\s+default/web2\\s+succeeded\\s+100%`));

  await qemuWrite(fx.file('web'), '0xcd', '0', '4M');
  r = await stacctl('volume', 'rollback', 'web', 'golden');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /done \(auto-before-rollback-/);
  assert.ok(await qemuReads(fx.file('web'), '0xab', '0', '4M'));

  assert.equal((await stacctl('volume', 'resize', 'web', '2G')).code, 0);
  r = await stacctl('volume', 'resize', 'web', '1G');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /allow-shrink.*org\.nvmexpress\.stac\.Error\.InvalidArgument/);
  assert.equal((await stacctl('volume', 'rename', 'web2', 'web-copy')).code, 0);

  // refusals, then forced delete
  r = await stacctl('snapshot', 'rm', 'web', 'golden');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /protected.*Error\.Busy/);
  r = await stacctl('volume', 'rm', 'web');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /snapshot.*Error\.Busy/);
  assert.equal((await stacctl('snapshot', 'unprotect', 'web', 'golden')).code, 0);
  r = await stacctl('volume', 'rm', 'web', '--force');
  assert.equal(r.code, 0, r.stderr);
  r = await stacctl('volume', 'ls', '--json');
  assert.deepEqual(
    (JSON.parse(r.stdout) as { Name: string }[]).map((v) => v.Name),
    ['web-copy'],
  );
});

test('stacctl: bad input → usage errors or named D-Bus errors, nothing changed', async () => {
  const before = (await stacctl('volume', 'ls', '--json')).stdout;
  const cases: [string[], number, RegExp][] = [
    [['volume', 'create', '../x', '--size', '1G'], 1, /InvalidArgument/],
    [['volume', 'create', '', '--size', '1G'], 1, /must not be empty.*InvalidArgument/],
    [['volume', 'create', 'x'.repeat(300), '--size', '1G'], 1, /300 characters.*InvalidArgument/],
    [['volume', 'create', 'ok', '--size', '0'], 1, /greater than 0.*InvalidArgument/],
    [['volume', 'create', 'ok', '--size', '-1G'], 2, /not a size/],
    [['volume', 'create', 'ok', '--size', '513T'], 1, /512 TiB.*InvalidArgument/],
    [['volume', 'create', 'ok', '--size', '1000'], 1, /multiple of 512.*InvalidArgument/],
    [['volume', 'create', 'ok', '--size', 'lots'], 2, /not a size/],
    [['volume', 'create', 'ok', '--size', '1G', '--qos-iops', 'x'], 2, /whole number/],
    [['volume', 'show', 'nope'], 1, /not found.*NotFound/],
    [['snapshot', 'ls', 'nope'], 1, /NotFound/],
    [['job', 'show', 'ffff'], 1, /Unknown|not found/i],
  ];
  for (const [args, code, re] of cases) {
    const r = await stacctl(...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout} ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
  const j = await stacctl('volume', 'create', '../x', '--size', '1G', '--json');
  assert.equal((JSON.parse(j.stdout) as { error: { kind: string } }).error.kind, 'dbus-error');
  assert.equal((await stacctl('volume', 'ls', '--json')).stdout, before);
});
