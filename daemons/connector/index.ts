// stacd's connector: desired state (config + stafd's log pages) → reconcile plan → connections (kernel or
// userspace driver), and the org.nvmexpress.stac / .Connector1 D-Bus adapters. See connector.ts.
import type { Engine, EngineContext } from '../runtime/daemon-runtime.js';
import type { ServiceConfig } from '../config/service-config.js';
import { Connector, type ConnectorDeps } from './connector.js';

export function createConnectorEngine(ctx: EngineContext<ServiceConfig>, deps: ConnectorDeps): Engine<ServiceConfig> {
  return new Connector(ctx, deps);
}
