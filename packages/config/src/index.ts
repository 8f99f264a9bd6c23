export * from './config';
export * from './tenants';
