// stacd's engine: the I/O controller table behind org.nvmexpress.stac, and the process information.
// The table holds what stacd manages; until the session engine runs it is empty, which is the true answer.
import type { Engine, EngineContext } from '../common/daemon-runtime.js';
import type { ServiceConfig } from '../config/service-config.js';
import type { SysConfig } from '../config/sys-config.js';
import { baseProcessInfo } from '../common/process-info.js';
import { hostInfo } from '../common/host-info.js';
import { Timer } from '../common/timer.js';
import { kernelSupport } from '../common/kernel-support.js';
import { join } from 'node:path';
import { runtimeDir } from '../common/state-dirs.js';
import type { PyValue } from '../common/pyfmt.js';

export interface ConnectorDeps {
  sys: SysConfig;
}

export function createConnectorEngine(ctx: EngineContext<ServiceConfig>, deps: ConnectorDeps): Engine<ServiceConfig> {
  const soak = new Timer(1.5, () => undefined);
  const audit = new Timer(30, () => undefined);
  const controllers: Record<string, string>[] = [];
  const support = kernelSupport();
  const cacheFile = join(runtimeDir('stacd'), 'last-known-config.json');
  return {
    interfaces: () => ({
      'org.nvmexpress.stac': {
        methods: {
          list_controllers: (_detailed: boolean) => controllers,
        },
      },
    }),
    processInfo: (): Record<string, PyValue> => ({
      ...baseProcessInfo({
        host: hostInfo(deps.sys),
        lastKnownConfigFile: cacheFile,
        configSoakTimer: soak,
        tp8013: support.discovery,
        hostIface: support.hostIface,
        auditTimer: audit,
      }),
      'stas.disconnect-scope': ctx.config.disconnectScope,
    }),
    controllerInfo: () => undefined,
    start: async () => undefined,
    reload: async (config) => {
      ctx.config = config;
    },
    stop: async () => {
      soak.stop();
      audit.stop();
    },
  };
}
