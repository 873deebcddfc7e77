// What stafd and stacd share as processes: command line, logging, config load/reload, the D-Bus object
// with its .debug interface, signals (SIGHUP reload, SIGTERM/SIGINT clean stop).
import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { connectSystemBus, onConnectionLost, requestBusName, waitConnected, type MessageBus } from '../dbus/bus.js';
import { ExportedObject, type InterfaceImpl } from '../dbus/exported-object.js';
import { interfaceFile } from '../dbus/interfaces-dir.js';
import { debugInterface, type DebugSource } from './debug-interface.js';
import { initLog, log, setTron } from '../common/log.js';
import { stasVersion } from '../common/version.js';
import { AcceptedConfig } from '../config/accepted.js';
import type { ConfigFileText } from '../config/service-config.js';
import type { LoadedConfig } from '../config/daemon-config.js';

/** Bound on the problems logged for one file (an 8 KiB random file has hundreds). */
const MAX_LOGGED_PROBLEMS = 50;

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
  /** the same validation on texts read earlier (the last accepted configuration) */
  configFromTexts(file: string, texts: readonly ConfigFileText[]): LoadedConfig<C>;
  /** where the last accepted configuration is kept */
  stateDir(): string;
  /** --check-config: sys.conf and the host identity (the same for both daemons) */
  checkHost(): { errors: string[]; warnings: string[] };
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
    .option(
      '--tron',
      'trace on: debug logging from the start (also: tron= in the config file, or the D-Bus tron property)',
    )
    .option(
      '--check-config',
      'validate the configuration file (and sys.conf) as a reload would, print every problem with file:line, and exit (0 = a reload accepts it, notes aside; 1 = errors: a reload refuses it; 2 = missing or unreadable)',
    )
    .version(`stas ${stasVersion()}`, '-v, --version', 'print the version and exit')
    .addHelpText(
      'after',
      `
Signals:
  SIGHUP            re-read the configuration (systemctl reload ${spec.prog}); a file with errors, or one that cannot
                    be read, is refused ("reload refused" in the log) and the running configuration is kept
  SIGTERM, SIGINT   stop cleanly

D-Bus: ${spec.busName} at ${spec.objectPath} on the system bus ($DBUS_SYSTEM_BUS_ADDRESS when set).`,
    );
  program.parse(argv);
  const opts = program.opts<CliOptions>();

  if (opts.checkConfig) checkConfigAndExit(spec, opts.confFile);

  initLog({ name: spec.prog });
  const accepted = new AcceptedConfig(spec.stateDir(), spec.prog, opts.confFile);
  let config = startConfig(spec, opts.confFile, accepted).config;
  setTron(Boolean(opts.tron) || spec.configTron(config));
  log().info(`${spec.prog} (stas ${stasVersion()}) starting, config ${opts.confFile}`);

  const bus = connectSystemBus();
  let stoppingOnPurpose = false;
  onConnectionLost(bus, (reason) => {
    if (stoppingOnPurpose) return;
    // without the bus the daemon cannot be reached nor follow stafd/Avahi: exit non-zero so that systemd
    // (Restart=on-failure) starts it again on a fresh connection
    log().fatal(
      `lost the D-Bus connection: ${reason}; exiting (status 1) for the service manager to restart ${spec.prog}`,
    );
    process.exit(1);
  });
  try {
    await waitConnected(bus);
  } catch (e) {
    log().fatal(
      `cannot connect to the system bus (${process.env.DBUS_SYSTEM_BUS_ADDRESS ?? 'unix:path=/var/run/dbus/system_bus_socket'}): ${(e as Error).message}`,
    );
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
        log().error(`reload refused: ${(e as Error).message}; keeping the running configuration`);
        return;
      }
      logProblems(next);
      if (next.errors.length > 0) {
        // as `nginx -s reload` after a failed test: a half-understood file must not drop connections
        log().error(
          `reload refused: ${next.errors.length} error(s) in ${opts.confFile} (listed above); keeping the running configuration ` +
            `(check the file with: ${spec.prog} --check-config -f ${opts.confFile})`,
        );
        return;
      }
      const changes = spec.describeChanges(config, next.config);
      config = next.config;
      saveAccepted(accepted, next.texts);
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

function logProblems(loaded: { errors: string[]; warnings: string[] }): void {
  const all = [...loaded.errors.map((t) => ['error', t] as const), ...loaded.warnings.map((t) => ['warn', t] as const)];
  for (const [level, text] of all.slice(0, MAX_LOGGED_PROBLEMS)) log()[level](text);
  if (all.length > MAX_LOGGED_PROBLEMS)
    log().error(`... and ${all.length - MAX_LOGGED_PROBLEMS} more problem(s) (see --check-config)`);
}

function saveAccepted(accepted: AcceptedConfig, texts: readonly ConfigFileText[]): void {
  accepted
    .save(texts)
    .catch((e: unknown) =>
      log().warn(`cannot save the accepted configuration to ${accepted.path}: ${(e as Error).message}`),
    );
}

/**
 * The configuration to start with. A file with errors (or one that cannot be read) gives way to the last accepted
 * configuration when there is one; without one, an unreadable file is fatal and a file with errors is used for
 * what can be used (bad values replaced by defaults, malformed entries left out), loudly: a host booting with a
 * typo still gets the connections its other lines describe.
 */
function startConfig<C>(spec: DaemonSpec<C>, file: string, accepted: AcceptedConfig): LoadedConfig<C> {
  let loaded: LoadedConfig<C> | undefined;
  let unreadable: string | undefined;
  try {
    loaded = spec.loadConfig(file);
  } catch (e) {
    unreadable = (e as Error).message;
  }
  if (loaded && loaded.errors.length === 0) {
    logProblems(loaded);
    saveAccepted(accepted, loaded.texts);
    return loaded;
  }
  if (loaded) logProblems(loaded);
  const what = unreadable ?? `${loaded!.errors.length} error(s) in ${file} (listed above)`;
  const prev = accepted.load();
  if (prev && !('problem' in prev)) {
    const fromSaved = spec.configFromTexts(file, prev.texts);
    log().error(
      `${what}: starting with the last accepted configuration of ${prev.savedAt}, saved in ${accepted.path}; fix the file, then reload`,
    );
    logProblems({ errors: [], warnings: fromSaved.warnings });
    return fromSaved;
  }
  if (prev) log().error(`the last accepted configuration cannot be used: ${prev.problem}`);
  if (!loaded) {
    log().fatal(`${what}; no last accepted configuration in ${accepted.path}`);
    process.exit(1);
  }
  log().error(
    `${what}; no last accepted configuration in ${accepted.path}: starting with what can be used (invalid values replaced by defaults, malformed entries left out)`,
  );
  return loaded;
}

/** --check-config: the validation of a reload, plus sys.conf. Exit 0 = a reload accepts it, 1 = errors, 2 = unreadable. */
function checkConfigAndExit<C>(spec: DaemonSpec<C>, file: string): never {
  let loaded: LoadedConfig<C>;
  try {
    if (!existsSync(file)) throw new Error(`${file}: no such file (${spec.prog} would start with the defaults)`);
    loaded = spec.loadConfig(file);
  } catch (e) {
    console.error(`${spec.prog}: ${(e as Error).message}`);
    process.exit(2);
  }
  const host = spec.checkHost();
  const errors = [...loaded.errors, ...host.errors];
  const notes = [...loaded.warnings, ...host.warnings];
  for (const e of errors) console.error(`error: ${e}`);
  for (const w of notes) console.error(`note: ${w}`);
  const n = errors.length + notes.length;
  if (n === 0) console.log(`${file}: OK`);
  else
    console.log(
      `${file}: ${n} problem(s): ${errors.length} error(s)${errors.length ? ' (a reload refuses this file)' : ''}, ${notes.length} note(s)`,
    );
  process.exit(errors.length ? 1 : 0);
}
