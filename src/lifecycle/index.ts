export {
  installGracefulShutdown,
  shutdownMonitors,
  exitCodeOf,
  type GracefulShutdownOptions,
  type ShutdownOutcome,
  type ShutdownTarget,
} from "./graceful-shutdown.js";
