export { startMllpListener, type MllpListenerOptions, type RunningMllpListener } from './listener';
export { hl7Tenants, startConfiguredMllp } from './start';
export { answerFrame } from './handle-frame';
