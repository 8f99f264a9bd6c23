export * from './primitives';
export * from './patient';
export * from './vitals';
export * from './screening';
export * from './course';
export * from './responses';
export * from './openapi';
export * from './admin';
