export { Lifecycle, type LifecycleLogger, type LifecycleOptions, type StopResult } from './lifecycle';
export { CHECK_CONFIG_FLAG, nodeProcessHost, runService, type ServiceHost, type ServiceSpec } from './service';
export { loadProcessSettings, type ProcessSettings, type ProcessSettingsOptions } from './settings';
export { runDatabaseService, type DatabaseServiceSpec } from './database-service';
