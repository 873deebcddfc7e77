// What stafd and stacd share as processes: command line, logging, config load/reload, the D-Bus object
// with its .debug interface, signals (SIGHUP reload, SIGTERM/SIGINT clean stop).
import { Command, Option } from 'commander';
import { connectSystemBus, onConnectionLost, requestBusName, waitConnected, type MessageBus } from '../dbus/bus.js';
import { ExportedObject, type InterfaceImpl } from '../dbus/exported-object.js';
import { interfaceFile } from '../dbus/interfaces-dir.js';
import { debugInterface, type DebugSource } from './debug-interface.js';
import { initLog, log, setTron } from './log.js';
import { stasVersion } from './version.js';

export interface LoadedConfig<C> {
  config: C;
  /** human-readable warnings naming file, line and option */
  warnings: string[];
}

export interface EngineContext<C> {
  bus: MessageBus;
  config: C;
  confFile: string;
  /** set once the D-Bus object is exported (signals are emitted through it) */
  object(): ExportedObject;
}

export interface Engine<C> extends DebugSource {
  /** the main interface (org.nvmexpress.staf / .stac), plus any extra interfaces on the same object */
  interfaces(): Record<string, InterfaceImpl>;
  start(): Promise<void>;
  /** a new config was read successfully on SIGHUP; `changes` lists what differs */
  reload(config: C, changes: string[]): Promise<void>;
  stop(): Promise<void>;
}

export interface DaemonSpec<C> {
  prog: 'stafd' | 'stacd';
  description: string;
  busName: string;
  objectPath: string;
  defaultConfFile: string;
  /** throws (with a message naming the file) when the file cannot be read at all */
  loadConfig(file: string): LoadedConfig<C>;
  configTron(config: C): boolean;
  describeChanges(oldConfig: C, newConfig: C): string[];
  createEngine(ctx: EngineContext<C>): Engine<C> | Promise<Engine<C>>;
}

interface CliOptions {
  confFile: string;
  syslog?: boolean;
  tron?: boolean;
  checkConfig?: boolean;
}

export async function runDaemon<C>(spec: DaemonSpec<C>, argv = process.argv): Promise<void> {
  const program = new Command(spec.prog)
    .description(spec.description)
    .addOption(new Option('-f, --conf-file <file>', 'configuration file').default(spec.defaultConfFile))
    .option('-s, --syslog', 'log for the journal/syslog (no colours, identifier = program name)')
    .option('--tron', 'trace on: debug logging from the start (also: tron= in the config file, or the D-Bus tron property)')
    .option('--check-config', 'read and validate the configuration file, print every problem with file:line, and exit (0 = clean, 1 = warnings, 2 = unreadable)')
    .version(`stas ${stasVersion()}`, '-v, --version', 'print the version and exit')
    .addHelpText(
      'after',
      `
Signals:
  SIGHUP            re-read the configuration (systemctl reload ${spec.prog}); a file that cannot be read keeps the running one
  SIGTERM, SIGINT   stop cleanly

D-Bus: ${spec.busName} at ${spec.objectPath} on the system bus ($DBUS_SYSTEM_BUS_ADDRESS when set).`,
    );
  program.parse(argv);
  const opts = program.opts<CliOptions>();

  if (opts.checkConfig) {
    let loaded: LoadedConfig<C>;
    try {
      loaded = spec.loadConfig(opts.confFile);
    } catch (e) {
      console.error(`${spec.prog}: ${(e as Error).message}`);
      process.exit(2);
    }
    for (const w of loaded.warnings) console.error(w);
    console.log(loaded.warnings.length ? `${opts.confFile}: ${loaded.warnings.length} problem(s)` : `${opts.confFile}: OK`);
    process.exit(loaded.warnings.length ? 1 : 0);
  }

  initLog({ name: spec.prog });
  let loaded: LoadedConfig<C>;
  try {
    loaded = spec.loadConfig(opts.confFile);
  } catch (e) {
    log().fatal(`${(e as Error).message}`);
    process.exit(1);
  }
  for (const w of loaded.warnings) log().warn(w);
  let config = loaded.config;
  setTron(Boolean(opts.tron) || spec.configTron(config));
  log().info(`${spec.prog} (stas ${stasVersion()}) starting, config ${opts.confFile}`);

  const bus = connectSystemBus();
  let stoppingOnPurpose = false;
  onConnectionLost(bus, (reason) => {
    if (stoppingOnPurpose) return;
    // without the bus the daemon cannot be reached nor follow stafd/Avahi: exit non-zero so that systemd
    // (Restart=on-failure) starts it again on a fresh connection
    log().fatal(`lost the D-Bus connection: ${reason}; exiting (status 1) for the service manager to restart ${spec.prog}`);
    process.exit(1);
  });
  try {
    await waitConnected(bus);
  } catch (e) {
    log().fatal(`cannot connect to the system bus (${process.env.DBUS_SYSTEM_BUS_ADDRESS ?? 'unix:path=/var/run/dbus/system_bus_socket'}): ${(e as Error).message}`);
    process.exit(1);
  }

  let exported: ExportedObject | undefined;
  const engine = await spec.createEngine({
    bus,
    config,
    confFile: opts.confFile,
    object: () => {
      if (!exported) throw new Error('D-Bus object not exported yet');
      return exported;
    },
  });
  exported = ExportedObject.create(bus, spec.objectPath, interfaceFile(spec.busName), {
    [`${spec.busName}.debug`]: debugInterface(engine),
    ...engine.interfaces(),
  });
  // Signal handlers go in before the name is taken: from then on systemd (or anyone) may send SIGHUP/SIGTERM,
  // and Node's default action for SIGHUP would end the process silently. Work queues behind start-up.
  let started!: () => void;
  let busy: Promise<void> = new Promise<void>((r) => (started = r));
  let stopping = false;

  const reload = (): void => {
    busy = busy.then(async () => {
      if (stopping) return;
      let next: LoadedConfig<C>;
      try {
        next = spec.loadConfig(opts.confFile);
      } catch (e) {
        log().error(`reload: ${(e as Error).message}; keeping the running configuration`);
        return;
      }
      for (const w of next.warnings) log().warn(w);
      const changes = spec.describeChanges(config, next.config);
      config = next.config;
      // nvme-stas: a reload sets tron purely from the file
      setTron(spec.configTron(config));
      log().info(changes.length ? `reload: applying ${changes.join('; ')}` : 'reload: configuration unchanged');
      try {
        await engine.reload(config, changes);
      } catch (e) {
        log().error(`reload failed: ${(e as Error).message}`);
      }
    });
  };

  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log().info(`${sig} received, stopping`);
    const hardStop = setTimeout(() => {
      log().error('clean stop took longer than 20 s; exiting');
      process.exit(1);
    }, 20_000);
    void busy
      .then(() => engine.stop())
      .catch((e: unknown) => log().error(`stop: ${(e as Error).message}`))
      .finally(() => {
        exported?.unexport();
        stoppingOnPurpose = true;
        bus.disconnect();
        clearTimeout(hardStop);
        log().info(`${spec.prog} stopped`);
        process.exit(0);
      });
  };

  process.on('SIGHUP', reload);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  try {
    await requestBusName(bus, spec.busName);
  } catch (e) {
    log().fatal((e as Error).message);
    process.exit(1);
  }
  try {
    await engine.start();
    log().info(`${spec.prog} ready on D-Bus as ${spec.busName}`);
  } catch (e) {
    // keep serving D-Bus (status, tron) so that an operator can see what is wrong
    log().error(`start-up failed: ${(e as Error).message}`);
  }
  started();

  process.on('uncaughtException', (e) => {
    // a bug must not take the daemon (and the connections it manages) down silently
    log().error({ err: e }, `uncaught exception: ${e.message}`);
  });
  process.on('unhandledRejection', (e) => {
    log().error(`unhandled rejection: ${(e as Error)?.message ?? String(e)}`);
  });
}
