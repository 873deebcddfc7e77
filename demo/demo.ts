// The demo: the Linux kernel NVMe/TCP target on a private LAN, advertised by mDNS (Avahi); stafd and stacd on
// embedded defaults on a host of that LAN, on a private system bus: stafd finds the target by zero-touch discovery,
// stacd connects its subsystems, a volume and a snapshot are made, and the CLIs show it all.
// Runs until Ctrl-C (or once with --once) and cleans up after itself.
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateBus } from '../test/harness/bus.js';
import { startDaemon, runCli, type RunningDaemon } from '../test/harness/daemons.js';
import { startAvahi, serviceXml, type AvahiDaemon } from '../test/harness/avahi/index.js';
import { attachToLan, ensureTargetVm, stopAllVms, type LanHost } from '../test/harness/target-vm/index.js';

const once = process.argv.includes('--once');

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function banner(text: string): void {
  console.log(`\n\x1b[1m== ${text}\x1b[0m`);
}

async function show(prog: 'stafctl' | 'stacctl', args: string[], busAddress: string): Promise<void> {
  // the demo runs the compiled CLIs exactly as a user would
  console.log(`$ ${prog} ${args.join(' ')}`);
  const r = await runCli(prog, args, { busAddress });
  process.stdout.write(r.stdout);
  if (r.stderr) process.stdout.write(r.stderr);
  if (r.code !== 0) throw new Error(`${prog} ${args.join(' ')} exited with ${r.code}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stas-demo-'));
  const etc = join(dir, 'etc');
  mkdirSync(join(etc, 'stas'), { recursive: true });
  mkdirSync(join(etc, 'nvme'), { recursive: true });
  // a host identity of its own, so the demo never touches the machine's /etc
  writeFileSync(join(etc, 'nvme', 'hostnqn'), 'nqn.2014-08.org.nvmexpress:uuid:5a7d0000-0000-4000-8000-000000000001\n');
  writeFileSync(join(etc, 'nvme', 'hostid'), '5a7d0000-0000-4000-8000-000000000001\n');
  writeFileSync(join(etc, 'stas', 'sys.conf'), '[Host]\n');

  banner('booting the Linux kernel NVMe/TCP target (nvmet) in QEMU');
  const t0 = Date.now();
  const vm = await ensureTargetVm();
  console.log(
    `nvmet ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: on the LAN at ${vm.lan.address} (discovery 8009, I/O 4420)`,
  );
  console.log(`subsystems: ${vm.defaultSubsystems.join(', ')}`);

  // zeroconf=enabled is the default: no controller= line, stafd learns of the target from mDNS alone
  writeFileSync(join(etc, 'stas', 'stafd.conf'), '[Global]\n\n[Service Discovery]\nzeroconf=enabled\n');
  writeFileSync(
    join(etc, 'stas', 'stacd.conf'),
    `[Global]\n\n[Volumes]\nbackend=qcow2\nroot=${join(dir, 'volumes')}\n`,
  );
  const env = { STAS_ETC: etc, STATE_DIRECTORY: join(dir, 'state'), RUNTIME_DIRECTORY: join(dir, 'run') };

  const lanHosts: LanHost[] = [];
  const avahis: AvahiDaemon[] = [];
  const daemons: RunningDaemon[] = [];
  banner('private system bus');
  const bus = await startPrivateBus();
  console.log(`DBUS_SYSTEM_BUS_ADDRESS=${bus.address}`);
  let stopping = false;
  const cleanup = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    banner('stopping');
    for (const d of daemons.reverse()) await d.stop().catch((e: Error) => console.error(e.message));
    for (const a of avahis.reverse()) await a.stop().catch((e: Error) => console.error(e.message));
    await bus.stop();
    for (const h of lanHosts.reverse()) await h.destroy().catch((e: Error) => console.error(e.message));
    if (!process.env.STAS_KEEP_PEERS) await stopAllVms();
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(0)));
  process.on('SIGTERM', () => void cleanup().then(() => process.exit(0)));
  try {
    banner('advertising the target by mDNS (Avahi, _nvme-disc._tcp)');
    const pub = await attachToLan('dpub');
    lanHosts.push(pub);
    const targetName = 'nvmet-demo.local';
    avahis.push(
      await startAvahi({
        ns: pub.ns,
        iface: pub.ifname,
        hostName: 'stas-demo-advertiser',
        hosts: { [targetName]: vm.lan.address },
        services: {
          nvmet: serviceXml({
            name: 'nvmet demo target',
            stype: '_nvme-disc._tcp',
            port: 8009,
            hostName: targetName,
            txt: ['p=tcp', 'nqn=nqn.2014-08.org.nvmexpress.discovery'],
          }),
        },
      }),
    );
    console.log(
      `avahi-daemon on ${pub.address} advertises "nvmet demo target" → ${targetName} (${vm.lan.address}):8009, TXT p=tcp`,
    );

    banner('the storage host on the LAN');
    const host = await attachToLan('dhost');
    lanHosts.push(host);
    avahis.push(
      await startAvahi({ ns: host.ns, iface: host.ifname, hostName: 'stas-demo-host', busAddress: bus.address }),
    );
    console.log(`host ${host.address} (${host.ifname}) with avahi-daemon on the bus (org.freedesktop.Avahi)`);
    const wrap = ['ip', 'netns', 'exec', host.ns];

    banner('starting stafd and stacd');
    daemons.push(
      await startDaemon('stafd', { busAddress: bus.address, confFile: join(etc, 'stas', 'stafd.conf'), env, wrap }),
    );
    daemons.push(
      await startDaemon('stacd', { busAddress: bus.address, confFile: join(etc, 'stas', 'stacd.conf'), env, wrap }),
    );
    console.log('stafd owns org.nvmexpress.staf, stacd owns org.nvmexpress.stac');

    banner('stafd finds the discovery controller by mDNS and reads its log page');
    await daemons[0]!.waitForLog('Received discovery log pages', 60_000);
    await show('stafctl', ['ls', '-d'], bus.address);
    await show('stafctl', ['adlp'], bus.address);

    banner('stacd connects every NVM subsystem stafd found');
    await waitFor(
      async () => {
        const r = await runCli('stacctl', ['ls', '-d', '--json'], { busAddress: bus.address });
        const list = r.code === 0 ? (JSON.parse(r.stdout) as Record<string, string>[]) : [];
        return list.length >= vm.defaultSubsystems.length && list.every((c) => c.connected === 'True');
      },
      60_000,
      'stacd to connect the subsystems',
    );
    await show('stacctl', ['ls', '-d'], bus.address);

    banner('a volume and a snapshot on the embedded qcow2 backend');
    await show('stacctl', ['volume', 'create', 'demo-vol', '--size', '1G'], bus.address);
    await show('stacctl', ['snapshot', 'create', 'demo-vol', 'first'], bus.address);
    await show('stacctl', ['volume', 'ls'], bus.address);
    await show('stacctl', ['snapshot', 'ls', 'demo-vol'], bus.address);

    banner('status of both daemons');
    await show('stafctl', ['status'], bus.address);
    await show('stacctl', ['status'], bus.address);
  } catch (e) {
    console.error(`demo failed: ${(e as Error).message}`);
    for (const d of daemons) console.error(d.output().slice(-2000));
    await cleanup();
    process.exit(1);
  }
  if (once) {
    await cleanup();
    return;
  }
  banner(`running; try: DBUS_SYSTEM_BUS_ADDRESS=${bus.address} node dist/ctl/stafctl.js ls -d   (Ctrl-C to stop)`);
  await new Promise(() => undefined);
}

await main();
