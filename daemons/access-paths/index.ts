// stacd's access paths: volumes exported through the kernel NVMe target to the hosts of a mapping group.
// start() wires model, nvmet and D-Bus together; stacd-storage calls it once the volumes are open.
import { join } from 'node:path';
import type { MessageBus } from '../dbus/bus.js';
import { log } from '../common/log.js';
import { NvmetTarget } from '../targets/nvmet.js';
import type { StorageDBus } from '../volumes/dbus/storage-objects.js';
import type { VolumeService } from '../volumes/service.js';
import { AccessPathService, type VolumeAccess } from './service.js';
import { AccessPathDBus } from './dbus.js';

export { AccessPathService } from './service.js';
export {
  AccessPathDBus,
  ACCESS_PATH_IFACE,
  ACCESS_PATH_MANAGER_IFACE,
  ACCESS_PATHS_PATH,
  ACCESS_PATH_MUTATING_MEMBERS,
  accessPathPath,
} from './dbus.js';
export { parsePort, validateNqn, defaultNqn, type AccessPath } from './model.js';

export interface AccessPaths {
  service: AccessPathService;
  dbus: AccessPathDBus;
  status: string;
}

/** Opens nvmet (a missing target is reported, not fatal: the objects say why), the model, and the D-Bus objects. */
export async function startAccessPaths(o: {
  bus: MessageBus;
  stateDir: string;
  volumes: VolumeService;
  storageDBus: StorageDBus;
  applianceId: string;
}): Promise<AccessPaths> {
  let target: NvmetTarget | undefined = new NvmetTarget({ stateFile: join(o.stateDir, 'nvmet-owned.json') });
  let problem = '';
  try {
    await target.open();
  } catch (e) {
    problem = (e as Error).message;
    target = undefined;
    log().warn(`access paths: ${problem}`);
  }
  const volumes: VolumeAccess = {
    getVolume: (name) => o.volumes.getVolume(name),
    exportVolume: (name) => o.volumes.exportVolume(name),
    unexportVolume: (name) => o.volumes.unexportVolume(name),
  };
  const service = new AccessPathService({
    stateFile: join(o.stateDir, 'access-paths.json'),
    target,
    targetProblem: problem,
    volumes,
    applianceId: o.applianceId,
  });
  await service.open();
  o.volumes.setExportCheck((vol) => service.mappedIn(vol));
  o.volumes.on('change', (c: { volume: string; renamedFrom?: string; removed?: boolean }) => {
    if (c.renamedFrom || c.removed)
      void service
        .volumeChanged(c.volume, c)
        .catch((e: unknown) => log().error(`access paths: ${(e as Error).message}`));
  });
  const dbus = new AccessPathDBus(o.bus, service, o.storageDBus, {
    available: target !== undefined,
    problem,
    hostAuth: target?.hostAuthSupported ?? false,
  });
  dbus.start();
  const n = service.list().length;
  return {
    service,
    dbus,
    status: target
      ? `${n} access path(s)${target.hostAuthSupported ? ', DH-HMAC-CHAP' : ''}`
      : `unavailable: ${problem}`,
  };
}
