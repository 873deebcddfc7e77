#!/usr/bin/env node
// stacd: the NVMe-oF I/O connector and volume manager. Wiring only; the work lives in connector/ and volumes/.
import { runDaemon } from './common/daemon-runtime.js';
import { loadServiceConfig, defaultConfPath, type ServiceConfig } from './config/service-config.js';
import { loadSysConfig } from './config/sys-config.js';
import { describeChanges } from './config/reload.js';
import { createConnectorEngine } from './connector/index.js';

await runDaemon<ServiceConfig>({
  prog: 'stacd',
  description: 'STorage Appliance Connector: sets up NVMe-oF I/O controller connections and manages volumes and snapshots.',
  busName: 'org.nvmexpress.stac',
  objectPath: '/org/nvmexpress/stac',
  defaultConfFile: defaultConfPath('stacd'),
  loadConfig: (file) => {
    const { config, warnings } = loadServiceConfig('stacd', file);
    return { config, warnings: warnings.map(String) };
  },
  configTron: (c) => c.tron,
  describeChanges,
  createEngine: (ctx) => createConnectorEngine(ctx, { sys: loadSysConfig().config }),
});
