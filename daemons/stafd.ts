#!/usr/bin/env node
// stafd: the NVMe-oF discovery controller finder. Wiring only; the work lives in finder/.
import { runDaemon } from './runtime/daemon-runtime.js';
import { defaultConfPath, type ServiceConfig } from './config/service-config.js';
import { checkSysConfig, SysConfig } from './config/sys-config.js';
import { serviceConfigLoader } from './config/daemon-config.js';
import { finderStateDir } from './finder/cache.js';
import { describeChanges as describeConfigChanges } from './config/reload.js';
import { createFinderEngine } from './finder/index.js';

await runDaemon<ServiceConfig>({
  prog: 'stafd',
  description:
    'STorage Appliance Finder: finds NVMe-oF discovery controllers (config, mDNS, referrals), keeps their discovery log pages and follows every change.',
  busName: 'org.nvmexpress.staf',
  objectPath: '/org/nvmexpress/staf',
  defaultConfFile: defaultConfPath('stafd'),
  ...serviceConfigLoader('stafd'),
  stateDir: () => finderStateDir(),
  checkHost: () => checkSysConfig(),
  configTron: (c) => c.tron,
  describeChanges: describeConfigChanges,
  createEngine: (ctx) => createFinderEngine(ctx, { sys: SysConfig.loadForDaemon() }),
});
