#!/usr/bin/env node
// stacd: the NVMe-oF I/O connector and volume manager. Wiring only; the work lives in connector/, volumes/,
// jobs/ and schedules/.
import { runDaemon } from './runtime/daemon-runtime.js';
import { defaultConfPath, type ServiceConfig } from './config/service-config.js';
import { checkSysConfig, SysConfig } from './config/sys-config.js';
import { serviceConfigLoader } from './config/daemon-config.js';
import { describeChanges } from './config/reload.js';
import { createConnectorEngine } from './connector/index.js';
import { StacdStorage, withStorage, checkStorageSections } from './volumes/stacd-storage.js';
import { stateDir, runtimeDir } from './common/state-dirs.js';
import { join } from 'node:path';

await runDaemon<ServiceConfig>({
  prog: 'stacd',
  description:
    'STorage Appliance Connector: sets up NVMe-oF I/O controller connections and manages volumes and snapshots.',
  busName: 'org.nvmexpress.stac',
  objectPath: '/org/nvmexpress/stac',
  defaultConfFile: defaultConfPath('stacd'),
  // [Volumes] and [Schedule] sections are validated with the rest: a reload refuses a broken schedule too
  ...serviceConfigLoader('stacd', checkStorageSections),
  stateDir: () => stateDir('stacd'),
  checkHost: () => checkSysConfig(),
  configTron: (c) => c.tron,
  describeChanges,
  createEngine: (ctx) => {
    const sys = SysConfig.loadForDaemon();
    let hostId: string | undefined;
    try {
      hostId = sys.hostnqn;
    } catch {
      hostId = undefined;
    }
    const storage = new StacdStorage({
      bus: ctx.bus,
      config: ctx.config,
      stateDir: stateDir('stacd'),
      runDir: join(runtimeDir('stacd'), 'storage-daemon'),
      ...(hostId ? { hostId } : {}),
    });
    return withStorage(createConnectorEngine(ctx, { sys }), storage);
  },
});
