#!/usr/bin/env node
// stafd: the NVMe-oF discovery controller finder. Wiring only; the work lives in finder/.
import { runDaemon } from './common/daemon-runtime.js';
import { loadServiceConfig, defaultConfPath, type ServiceConfig } from './config/service-config.js';
import { loadSysConfig } from './config/sys-config.js';
import { describeChanges as describeConfigChanges } from './config/reload.js';
import { createFinderEngine } from './finder/index.js';

await runDaemon<ServiceConfig>({
  prog: 'stafd',
  description: 'STorage Appliance Finder: finds NVMe-oF discovery controllers (config, mDNS, referrals), keeps their discovery log pages and follows every change.',
  busName: 'org.nvmexpress.staf',
  objectPath: '/org/nvmexpress/staf',
  defaultConfFile: defaultConfPath('stafd'),
  loadConfig: (file) => {
    const { config, warnings } = loadServiceConfig('stafd', file);
    return { config, warnings: warnings.map(String) };
  },
  configTron: (c) => c.tron,
  describeChanges: describeConfigChanges,
  createEngine: (ctx) => createFinderEngine(ctx, { sys: loadSysConfig().config }),
});
