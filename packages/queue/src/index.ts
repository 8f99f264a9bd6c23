export * from './units';
export * from './enqueue';
export * from './save-for-sync';
export * from './connection';
export * from './queues';
export * from './ownership';
export * from './stop-course';
export * from './receive-inbound';
