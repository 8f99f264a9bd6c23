export type { FaultSpec } from './admin/faults';
export type { SandboxStats } from './admin/stats';
export type { AuthOptions } from './auth/options';
export { TOKEN_PATH } from './auth/options';
export type { Sandbox, SandboxOptions } from './sandbox';
export { createSandbox, FHIR_BASE_PATH } from './sandbox';
export type { RunningSandbox, StartSandboxOptions } from './start';
export { startSandbox } from './start';
export { SandboxRepository } from './store/sandbox-repository';
