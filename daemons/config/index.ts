// Configuration layer of stas: nvme-stas's stafd.conf / stacd.conf / sys.conf, compatible in syntax and meaning,
// plus drop-in folders and warnings that name file:line.
//
// Public API (this file re-exports what other folders import through it; the rest is imported from its module)
// ----------
// Daemon configuration (stafd.conf, stacd.conf):
//   loadServiceConfig(kind, path)        -> { config: ServiceConfig, warnings: ConfigWarning[] }   (sync; CLIs, start-up)
//   loadServiceConfigAsync(kind, path)   -> same, without blocking the event loop
//   reloadServiceConfig(current)         -> { ok: true, config, warnings, changes } | { ok: false, error: ConfigError }
//                                           (SIGHUP: on error keep `current`; log `changes` as "applied on reload")
//   describeChanges(before, after)       -> string[] e.g. "[Global] kato: 30 -> 17" (secrets masked)
//   defaultConfPath(kind)                -> /etc/stas/<kind>.conf ($STAS_ETC replaces /etc)
//   Reading: main file, then `<path>.d/*.conf` in lexical order (later wins for scalars, controller=/exclude=
//   appended). A missing file means defaults; a file that exists but cannot be read throws ConfigError
//   (path + reason). Warnings are advisory: the configuration is always usable.
//
//   ServiceConfig (immutable): typed getters tron, hdrDigest, dataDigest, kato, queueSize, nrIoQueues,
//   nrWriteQueues, nrPollQueues, reconnectDelay, ctrlLossTmo, disableSqflow (null = not set, driver default),
//   ignoreIface, ipFamily ([4,6] ...), ipv4Enabled, ipv6Enabled, pleo, zeroconf, stypes, persistentConnections,
//   zeroconfPersistence (TimeSpan) / zeroconfPersistenceSec, disconnectScope, disconnectTrtypes,
//   connectAttemptsOnNcc, controllers (ControllerSpec[]: cid + file:line), excludes (ExcludeEntry[]),
//   get('Global/kato') / source(key) for generic access, connectParams(bag) -> [{option, kernel, value}].
//
// Controllers:
//   configuredTid(kind, spec, {ignoreIface, hostNqn}) -> { tid } | { reason }   (configured-entry filters, stafd's
//                                           well-known NQN default)
//   resolveConnectParams(lookup, bag), CONNECT_OPTIONS (kato -> keep_alive_tmo, ...), redactSecrets(text)
//   TID, isExcluded, matchesExclude live in daemons/common/tid.ts and daemons/common/exclude.ts.
//
// Host identity (sys.conf):
//   loadSysConfig(path?, {hostnqnFile?, hostidFile?, hostkeyFile?, onWarning?}) -> { config: SysConfig, warnings }
//   SysConfig: .hostnqn / .hostid (throw HostIdentityError with nvme-stas's exact texts), hostkey, symname (null when
//   undefined); file:// targets are re-read on every access.
//
// stasadm logic: generateHostNqn, generateHostId, machineAppSpecificUuid, saveHostOption, clearHostOption,
//   editHostOption, writeFileAtomic (see stasadm.ts); CLI in ctl/stasadm/host.ts.
//
// Time spans (timespan.ts): parseTimeSpan(text) -> { seconds, isFloat } | null; timeSpanRepr (Python number repr);
//   parseSystemdTimeSpan(text) -> { ms } | { error } (schedules).
// Low level: parseIni / IniDocument (ini.ts, the reader), OPTION_SPECS / KIND_DEFAULTS (option tables).
export { ConfigError, ConfigWarning } from './errors.js';
export {
  KIND_DEFAULTS,
  OPTION_SPECS,
  describeValue,
  fallbackValue,
  type OptionKey,
  type ServiceKind,
} from './options.js';
export { configuredTid, redactSecrets, resolveConnectParams, tokenizeControllerText } from './controllers.js';
export { ServiceConfig, loadServiceConfig } from './service-config.js';
export { describeChanges, reloadServiceConfig } from './reload.js';
export { HostIdentityError, SysConfig, defaultHostFiles, loadSysConfig } from './sys-config.js';
export {
  clearHostOption,
  editHostOption,
  generateHostId,
  generateHostNqn,
  hostNqnUuid,
  machineAppSpecificUuid,
  RootRequiredError,
  saveHostOption,
} from './stasadm.js';
export { WELL_KNOWN_DISC_NQN, type CidValue } from '../common/tid.js';
