export * from './contraindications';
export * from './screening-rules';
export * from './course';
export * from './follow-ups';
export * from './webhook-events';
export * from './measures';
export * from './clinic-time';
export * from './sync-status';
