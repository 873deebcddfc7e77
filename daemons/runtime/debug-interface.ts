// The `<name>.debug` interface shared by stafd and stacd: tron, log_level, process_info, controller_info.
import type { InterfaceImpl } from '../dbus/exported-object.js';
import { dbusError, DBUS_ERR_INVALID_ARGS } from '../dbus/errors.js';
import { isTron, setTron, pythonLevelName, log } from '../common/log.js';
import { jsonDumps, type PyValue } from '../common/pyfmt.js';

export interface DebugSource {
  /** process_info JSON object, keys in nvme-stas order (tron and log-level are prepended here) */
  processInfo(): Record<string, PyValue>;
  /** info dict of the controller with that TID, or undefined */
  controllerInfo(tid: [string, string, string, string, string, string, string]): Record<string, PyValue> | undefined;
}

export function debugInterface(src: DebugSource): InterfaceImpl {
  return {
    properties: {
      tron: {
        get: () => isTron(),
        set: (v) => {
          if (typeof v !== 'boolean') throw dbusError(DBUS_ERR_INVALID_ARGS, 'tron must be a boolean');
          setTron(v);
          log().info(`tron ${v ? 'on' : 'off'} (set over D-Bus)`);
        },
      },
      log_level: { get: () => pythonLevelName() },
    },
    methods: {
      process_info: (): string => jsonDumps({ tron: isTron(), 'log-level': pythonLevelName(), ...src.processInfo() }),
      controller_info: (
        transport: string,
        traddr: string,
        trsvcid: string,
        subsysnqn: string,
        hostTraddr: string,
        hostIface: string,
        hostNqn: string,
      ): string => {
        const info = src.controllerInfo([transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNqn]);
        return info ? jsonDumps(info) : '{}';
      },
    },
  };
}
