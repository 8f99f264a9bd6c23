export { startMllpListener, type MllpListenerOptions, type RunningMllpListener } from './listener';
export { startConfiguredMllp } from './start';
export { answerFrame } from './handle-frame';
