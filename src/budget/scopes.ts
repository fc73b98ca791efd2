/**
 * Which limits count a call, and for whom: each limit scope names the subject a call
 * is counted under (one user, one agent, one tenant, ...), or says the limit does not
 * apply. Pure functions, shared by checks, settling and the writer's feed.
 */
import type { BudgetLimit } from "./limits.js";

/** What the guard knows of a call (from its start callback, or from its record). */
export interface CallContext {
  userId: string;
  provider?: string | undefined;
  model?: string | undefined;
  agentName?: string | undefined;
  dimensions?: Readonly<Record<string, string>> | undefined;
}

/** The shared partition of counters that belong to no single user. */
export const SHARED_PARTITION = "__budget__";

/**
 * The subject a limit counts this call under: "" for a limit with one counter
 * (global, one user, one provider, one agent...), the value for a `*` scope, or
 * undefined when the limit does not apply to the call.
 */
export function subjectFor(limit: BudgetLimit, ctx: CallContext): string | undefined {
  const scope = limit.scope;
  if (scope === "global") return "";
  if (scope === "user:*") return ctx.userId;
  const colon = scope.indexOf(":");
  const kind = scope.slice(0, colon);
  const rest = scope.slice(colon + 1);
  switch (kind) {
    case "user":
      return rest === ctx.userId ? "" : undefined;
    case "provider":
      return rest === ctx.provider ? "" : undefined;
    case "agent":
      return rest === "*" ? (ctx.agentName ?? undefined) : rest === ctx.agentName ? "" : undefined;
    case "model":
      return rest === "*" ? (ctx.model ?? undefined) : rest === ctx.model ? "" : undefined;
    case "dimension": {
      const eq = rest.indexOf("=");
      const value = ctx.dimensions?.[rest.slice(0, eq)];
      if (value === undefined) return undefined;
      const wanted = rest.slice(eq + 1);
      return wanted === "*" ? value : wanted === value ? "" : undefined;
    }
    default:
      return undefined;
  }
}

/** A subject's scope as users read it: `user:alice`, `dimension:tenant=acme`, or the limit's own scope. */
export function subjectScope(limit: BudgetLimit, subject: string): string {
  if (subject === "") return limit.scope;
  const star = limit.scope.lastIndexOf("*");
  return `${limit.scope.slice(0, star)}${subject}`;
}

/** Whether a limit has one counter per subject (a `*` scope). */
export function isPerSubject(limit: BudgetLimit): boolean {
  return limit.scope.endsWith("*");
}

/** The user a counter belongs to (its Cosmos partition), if any. */
export function userOf(limit: BudgetLimit, subject: string): string | null {
  if (limit.scope === "user:*") return subject;
  if (limit.scope.startsWith("user:")) return limit.scope.slice(5);
  return null;
}
