// stafd.conf / stacd.conf as runDaemon sees them: one validation for start, SIGHUP and --check-config. Problems
// are split by severity: errors make a reload refuse the file, notes (what nvme-stas accepts) are logged only.
import type { LoadedConfig } from '../common/daemon-runtime.js';
import { readConfigFiles, ServiceConfig, type ConfigFileText } from './service-config.js';
import type { ServiceKind } from './options.js';

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
