export { UsageTelemetry, METER_NAME, type TelemetryOptions } from "./usage-telemetry.js";
export type { TelemetryAttributeOptions } from "./attributes.js";
export type { BudgetStatusSource, BudgetStatusLike } from "./budget-gauges.js";
