export * from './names';
export * from './connection';
