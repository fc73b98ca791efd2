/**
 * Where budget alerts go: a callback, the logger and a webhook. Emitting never
 * blocks or breaks a model call: sinks run after the caller has moved on, and the
 * webhook has its own bounded queue, a timeout per POST and retries with
 * exponential backoff, so a slow or dead endpoint only delays its own alerts.
 */
import { ValidationError } from "../errors.js";
import type { Logger } from "../writer/buffered-writer.js";
import type { BudgetMetric, BudgetMode } from "./limits.js";
import { parseWebhookFormat, webhookBody, type WebhookFormat } from "./alert-formats.js";

/** `refused`: a call was refused in a window whose 100% alert had not fired (its estimate did not fit). */
export type AlertLevel = "warning" | "critical" | "exceeded" | "refused";

export interface BudgetAlert {
  limitId: string;
  scope: string;
  /** The user a `user:*` or `user:<id>` limit was counted for; null for other limits. */
  userId: string | null;
  /** The subject's scope, e.g. `user:alice` or `dimension:tenant=acme` (same as `scope` for single-counter limits). */
  subjectScope: string;
  metric: BudgetMetric;
  mode: BudgetMode;
  level: AlertLevel;
  /** The threshold crossed, as a fraction (0.8 = 80%). */
  threshold: number;
  /** Usage / limit when it was crossed, as a fraction (0.8 = 80%; may be above the threshold). */
  fractionUsed: number;
  /** Tokens, or USD for cost limits. */
  used: number;
  limit: number;
  windowStart: string;
  resetsAt: string | null;
  at: string;
}

export interface WebhookOptions {
  url: string;
  headers?: Record<string, string>;
  /** Per POST. @default 5000 */
  timeoutMs?: number;
  /** Attempts per alert before it is dropped (and logged). @default 8 */
  maxAttempts?: number;
  /** First retry delay, doubled per attempt up to `maxRetryDelayMs`. @default 500 */
  retryDelayMs?: number;
  /** @default 60000 */
  maxRetryDelayMs?: number;
  /** Alerts waiting beyond this are dropped oldest first (and logged). @default 1000 */
  maxQueue?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Body shape: `json` (this package's), `slack`, `teams` (Workflows Adaptive Card) or `teams-legacy` (MessageCard). @default "json" */
  format?: WebhookFormat;
}

export function alertLevel(threshold: number): AlertLevel {
  return threshold >= 1 ? "exceeded" : threshold >= 0.95 ? "critical" : "warning";
}

export function formatAlert(a: BudgetAlert): string {
  const unit = a.metric === "cost" ? "USD" : a.metric;
  const who = a.userId ? ` for user ${a.userId}` : "";
  if (a.level === "refused") {
    return (
      `budget "${a.limitId}"${who} refused a call at ${Math.round(a.fractionUsed * 1000) / 10}% used ` +
      `(${a.used} of ${a.limit} ${unit}): the call's estimate did not fit in what is left` +
      (a.resetsAt ? `; resets at ${a.resetsAt}` : "")
    );
  }
  return (
    `budget "${a.limitId}"${who} reached ${Math.round(a.fractionUsed * 1000) / 10}% ` +
    `(${a.used} of ${a.limit} ${unit}, threshold ${Math.round(a.threshold * 100)}%)` +
    (a.resetsAt ? `; resets at ${a.resetsAt}` : "")
  );
}

/** POSTs alerts as JSON, one at a time, retrying each until it is accepted. */
export class WebhookSink {
  private readonly queue: Array<{ alert: BudgetAlert; attempts: number }> = [];
  private running: Promise<void> | null = null;
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;
  readonly stats = { sent: 0, failedAttempts: 0, dropped: 0 };
  private readonly opts: Required<Omit<WebhookOptions, "headers" | "fetch">>;

  constructor(
    private readonly options: WebhookOptions,
    private readonly logger: Logger,
  ) {
    try {
      const u = new URL(options.url);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
    } catch {
      throw new ValidationError("webhook.url", `must be an http(s) URL, got ${JSON.stringify(options.url)}`);
    }
    this.opts = {
      url: options.url,
      timeoutMs: positive(options.timeoutMs, 5000, "webhook.timeoutMs"),
      maxAttempts: positive(options.maxAttempts, 8, "webhook.maxAttempts"),
      retryDelayMs: positive(options.retryDelayMs, 500, "webhook.retryDelayMs"),
      maxRetryDelayMs: positive(options.maxRetryDelayMs, 60_000, "webhook.maxRetryDelayMs"),
      maxQueue: positive(options.maxQueue, 1000, "webhook.maxQueue"),
      format: parseWebhookFormat(options.format, "webhook.format"),
    };
  }

  /** Queues an alert and returns at once. */
  send(alert: BudgetAlert): void {
    if (this.closed) return;
    if (this.queue.length >= this.opts.maxQueue) {
      const dropped = this.queue.shift();
      this.stats.dropped++;
      this.logger.error(`budget webhook queue full; dropped the alert for "${dropped?.alert.limitId}"`);
    }
    this.queue.push({ alert, attempts: 0 });
    this.running ??= this.run().finally(() => {
      this.running = null;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Resolves once every queued alert was delivered or dropped. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retrying; queued alerts are dropped. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private async run(): Promise<void> {
    let delay = this.opts.retryDelayMs;
    while (this.queue.length > 0 && !this.closed) {
      const item = this.queue[0];
      item.attempts++;
      const error = await this.post(item.alert);
      if (error === null) {
        this.queue.shift();
        this.stats.sent++;
        delay = this.opts.retryDelayMs;
        continue;
      }
      this.stats.failedAttempts++;
      if (item.attempts >= this.opts.maxAttempts) {
        this.queue.shift();
        this.stats.dropped++;
        this.logger.error(`budget webhook gave up on the alert for "${item.alert.limitId}" after ${item.attempts} attempts: ${error}`);
        continue;
      }
      this.logger.warn(`budget webhook failed (${error}); retry in ${delay} ms`);
      await sleep(delay * (0.75 + Math.random() / 4));
      delay = Math.min(delay * 2, this.opts.maxRetryDelayMs);
    }
  }

  /** null on success, else why it failed. */
  private async post(alert: BudgetAlert): Promise<string | null> {
    const doFetch = this.options.fetch ?? globalThis.fetch;
    try {
      const response = await doFetch(this.opts.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.options.headers },
        body: JSON.stringify(webhookBody(alert, this.opts.format)),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      return response.ok ? null : `HTTP ${response.status}`;
    } catch (error) {
      return (error as Error).name === "TimeoutError" ? `timed out after ${this.opts.timeoutMs} ms` : (error as Error).message;
    }
  }
}

export interface AlertSinkOptions {
  /** Called with every alert (errors are logged, never thrown). */
  onAlert?: (alert: BudgetAlert) => void | Promise<void>;
  /** Logs every alert as a warning. */
  logger?: Logger;
  webhook?: WebhookOptions | string;
}

/** Fans one alert out to every configured sink, after the current call has moved on. */
export class AlertDispatcher {
  readonly webhook: WebhookSink | null;
  private readonly logger: Logger;

  constructor(private readonly options: AlertSinkOptions = {}) {
    this.logger = options.logger ?? consoleLogger;
    const webhook = typeof options.webhook === "string" ? { url: options.webhook } : options.webhook;
    this.webhook = webhook ? new WebhookSink(webhook, this.logger) : null;
  }

  emit(alert: BudgetAlert): void {
    queueMicrotask(() => {
      safely(() => this.logger.warn(`[token-tracking] ${formatAlert(alert)}`));
      if (this.options.onAlert) {
        try {
          Promise.resolve(this.options.onAlert(alert)).catch((error) => this.report(error));
        } catch (error) {
          this.report(error);
        }
      }
      this.webhook?.send(alert);
    });
  }

  /** Resolves once the webhook has nothing left to deliver. */
  idle(): Promise<void> {
    return this.webhook?.idle() ?? Promise.resolve();
  }

  close(): void {
    this.webhook?.close();
  }

  private report(error: unknown): void {
    safely(() => this.logger.warn(`[token-tracking] budget alert callback failed: ${(error as Error)?.message ?? String(error)}`));
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A broken logger must not break the model call.
  }
}

function positive(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw new ValidationError(field, `must be a positive number, got ${String(value)}`);
  return value;
}

/** Backoff timers must not keep a finished process alive. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

const consoleLogger: Logger = {
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};
