// stafd.conf / stacd.conf as runDaemon sees them: one validation for start, SIGHUP and --check-config. Problems
// are split by severity: errors make a reload refuse the file, notes (what nvme-stas accepts) are logged only.
import { readConfigFiles, ServiceConfig, type ConfigFileText } from './service-config.js';
import type { ServiceKind } from './options.js';

/** A configuration as the daemon runtime uses it (start, SIGHUP, --check-config). */
export interface LoadedConfig<C> {
  config: C;
  /** the file does not say what its author meant (file:line: [section] option: why): a reload refuses it */
  errors: string[];
  /** tolerated as nvme-stas tolerates them (file:line: ...): logged, the configuration is applied */
  warnings: string[];
  /** the texts the configuration was built from (saved as the last accepted configuration) */
  texts: readonly ConfigFileText[];
}

/** More checks on the same texts (stacd's [Volumes] and [Schedule] sections): error lines naming file:line. */
export type ExtraCheck = (texts: readonly ConfigFileText[]) => string[];

export interface ServiceConfigLoader {
  /** throws ConfigError when a file exists but cannot be read */
  loadConfig(file: string): LoadedConfig<ServiceConfig>;
  /** the same validation on texts already read (the last accepted configuration) */
  configFromTexts(file: string, texts: readonly ConfigFileText[]): LoadedConfig<ServiceConfig>;
}

export function serviceConfigLoader(kind: ServiceKind, extra?: ExtraCheck): ServiceConfigLoader {
  const configFromTexts = (file: string, texts: readonly ConfigFileText[]): LoadedConfig<ServiceConfig> => {
    const { config, warnings } = ServiceConfig.fromFiles(kind, file, texts);
    const errors = warnings.filter((w) => w.severity === 'error').map(String);
    errors.push(...(extra?.(texts) ?? []));
    return { config, errors, warnings: warnings.filter((w) => w.severity === 'note').map(String), texts };
  };
  return { loadConfig: (file) => configFromTexts(file, readConfigFiles(file)), configFromTexts };
}
