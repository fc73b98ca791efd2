/**
 * Slack and Teams webhook bodies, chosen by `BUDGET_ALERT_WEBHOOK_FORMAT`, delivered by a
 * real monitor to local servers on 127.0.0.1 that check the documented shape the way
 * the services do: a body they do not accept is answered 400 (and retried by the sink),
 * so only an accepted shape counts as delivered.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { webhookBody, parseWebhookFormat } from "../../src/budget/alert-formats.js";
import { budgetConfigFromEnv } from "../../src/budget/env-config.js";
import type { BudgetAlert } from "../../src/budget/alerts.js";

const plainText = z.object({ type: z.literal("plain_text"), text: z.string().min(1).max(150) }).strict();
const mrkdwn = (max: number) => z.object({ type: z.literal("mrkdwn"), text: z.string().min(1).max(max) }).strict();
/** Slack incoming webhook: `text` (notification fallback) plus Block Kit header/section blocks. */
const slackMessage = z
  .object({
    text: z.string().min(1),
    blocks: z
      .array(
        z.union([
          z.object({ type: z.literal("header"), text: plainText }).strict(),
          z.object({ type: z.literal("section"), text: mrkdwn(3000) }).strict(),
          z.object({ type: z.literal("section"), fields: z.array(mrkdwn(2000)).min(1).max(10) }).strict(),
        ]),
      )
      .min(1)
      .max(50),
  })
  .strict();

const adaptiveElement = z.union([
  z.object({ type: z.literal("TextBlock"), text: z.string().min(1) }).passthrough(),
  z.object({ type: z.literal("FactSet"), facts: z.array(z.object({ title: z.string().min(1), value: z.string() }).strict()).min(1) }).strict(),
]);
/** Teams Workflows webhook: a message with Adaptive Card attachments. */
const teamsWorkflowMessage = z
  .object({
    type: z.literal("message"),
    attachments: z
      .array(
        z
          .object({
            contentType: z.literal("application/vnd.microsoft.card.adaptive"),
            contentUrl: z.null(),
            content: z
              .object({
                $schema: z.string().url(),
                type: z.literal("AdaptiveCard"),
                version: z.string().regex(/^1\.[0-5]$/),
                body: z.array(adaptiveElement).min(1),
              })
              .strict(),
          })
          .strict(),
      )
      .length(1),
  })
  .strict();
/** Office 365 connector MessageCard. */
const messageCard = z
  .object({
    "@type": z.literal("MessageCard"),
    "@context": z.literal("https://schema.org/extensions"),
    summary: z.string().min(1),
    themeColor: z.string().regex(/^[0-9A-F]{6}$/),
    title: z.string().min(1),
    text: z.string().min(1),
    sections: z.array(z.object({ facts: z.array(z.object({ name: z.string().min(1), value: z.string() }).strict()) }).strict()),
  })
  .strict();

interface ShapeServer {
  url: string;
  accepted: unknown[];
  rejected: Array<{ body: unknown; issues: string }>;
  server: Server;
}

/** Answers like the service: Slack `200 ok`, Workflows `202`, connectors `200 1`; a wrong shape is 400. */
async function startShapeServer(schema: z.ZodType, okStatus: number, okBody: string): Promise<ShapeServer> {
  const state: ShapeServer = { url: "", accepted: [], rejected: [], server: undefined as never };
  state.server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: unknown;
    try {
      if (req.method !== "POST" || !String(req.headers["content-type"]).startsWith("application/json")) throw new Error("not a JSON POST");
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (error) {
      state.rejected.push({ body: null, issues: (error as Error).message });
      res.writeHead(400).end("invalid_payload");
      return;
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      state.rejected.push({ body, issues: parsed.error.message });
      res.writeHead(400).end("invalid_payload");
      return;
    }
    state.accepted.push(body);
    res.writeHead(okStatus).end(okBody);
  });
  await new Promise<void>((resolve) => state.server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/hook`;
  return state;
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A SQLite monitor with a daily limit of 100 tokens, closed (with its server) after the test. */
function budgetMonitor(server: ShapeServer, options: { env: NodeJS.ProcessEnv; webhook?: { url: string; maxAttempts: number } }) {
  const dir = mkdtempSync(join(tmpdir(), "alert-formats-"));
  const quiet = { warn: () => undefined, error: () => undefined };
  const monitor = createTokenMonitor({
    store: "sqlite",
    sqlitePath: join(dir, "usage.db"),
    writer: { flushIntervalMs: 5, spillDir: dir },
    logger: quiet,
    budget: { logger: quiet, ...(options.webhook ? { webhook: options.webhook } : {}) },
    env: { DAILY_TOKEN_BUDGET: "100", ...options.env },
  });
  cleanups.push(async () => {
    await monitor.close();
    await new Promise<void>((r) => {
      server.server.closeAllConnections();
      server.server.close(() => r());
    });
    rmSync(dir, { recursive: true, force: true });
  });
  return monitor;
}

async function alertThrough(format: string, server: ShapeServer) {
  const monitor = budgetMonitor(server, { env: { BUDGET_ALERT_WEBHOOK: server.url, BUDGET_ALERT_WEBHOOK_FORMAT: format } });
  await monitor.budget!.getBudgetStatus(); // seeds the window, as the enforcing handler does before a call
  // 85 then 15 tokens: the 80% threshold, then 95% and 100% of the daily limit.
  await monitor.trackUsage({ userId: "a<b>&c", provider: "openai", model: "gpt-4o-mini", inputTokens: 60, outputTokens: 25 });
  await monitor.flush();
  await monitor.trackUsage({ userId: "a<b>&c", provider: "openai", model: "gpt-4o-mini", inputTokens: 10, outputTokens: 5 });
  await monitor.flush();
  await monitor.budget!.flushAlerts();
}

describe("budget alert webhook formats", () => {
  it("Slack: text and Block Kit blocks accepted by a shape-checking server", async () => {
    const server = await startShapeServer(slackMessage, 200, "ok");
    await alertThrough("slack", server);
    expect(server.rejected).toEqual([]);
    expect(server.accepted).toHaveLength(3);
    const first = server.accepted[0] as z.infer<typeof slackMessage>;
    expect(first.blocks[0]).toEqual({ type: "header", text: { type: "plain_text", text: "Budget warning: env:daily-tokens" } });
    expect(first.text).toContain("85 of 100 tokens");
    const last = server.accepted[2] as z.infer<typeof slackMessage>;
    expect(last.blocks[0]).toMatchObject({ text: { text: "Budget exceeded: env:daily-tokens" } });
  });

  it("Teams Workflows: an Adaptive Card message accepted by a shape-checking server", async () => {
    const server = await startShapeServer(teamsWorkflowMessage, 202, "");
    await alertThrough("Teams", server);
    expect(server.rejected).toEqual([]);
    expect(server.accepted).toHaveLength(3);
    const card = (server.accepted[0] as z.infer<typeof teamsWorkflowMessage>).attachments[0].content;
    const factSet = card.body.find((b) => b.type === "FactSet") as { facts: Array<{ title: string; value: string }> };
    expect(factSet.facts).toContainEqual({ title: "Used", value: "85 of 100 tokens (85%)" });
  });

  it("Teams connector (legacy): a MessageCard accepted by a shape-checking server", async () => {
    const server = await startShapeServer(messageCard, 200, "1");
    await alertThrough("teams-legacy", server);
    expect(server.rejected).toEqual([]);
    expect(server.accepted.map((b) => (b as { themeColor: string }).themeColor)).toEqual(["FFA500", "D13438", "D13438"]);
  });

  it("a shape the server refuses is not counted as delivered (the checker can fail)", async () => {
    const server = await startShapeServer(slackMessage, 200, "ok");
    const monitor = budgetMonitor(server, { env: {}, webhook: { url: server.url, maxAttempts: 1 } });
    await monitor.budget!.getBudgetStatus();
    await monitor.trackUsage({ userId: "u", provider: "openai", model: "gpt-4o-mini", inputTokens: 90, outputTokens: 0 });
    await monitor.flush();
    await monitor.budget!.flushAlerts();
    // The generic JSON shape is not a Slack message.
    expect(server.accepted).toEqual([]);
    expect(server.rejected).toHaveLength(1);
    expect(server.rejected[0].body).toMatchObject({ type: "budget_alert", limitId: "env:daily-tokens" });
  });

  it("escapes Slack control characters from user input and cuts the header to 150 characters", () => {
    const alert: BudgetAlert = {
      limitId: "x".repeat(200), scope: "user:*", subjectScope: "user:<!channel>&", userId: "<!channel>&", metric: "cost", mode: "warn", level: "critical",
      threshold: 0.95, fractionUsed: 0.96, used: 9.6, limit: 10, windowStart: "2026-12-01T00:00:00.000Z", resetsAt: null, at: "2026-12-01T01:00:00.000Z",
    };
    const body = webhookBody(alert, "slack") as z.infer<typeof slackMessage>;
    expect(slackMessage.safeParse(body).success).toBe(true);
    expect(body.text).toContain("&lt;!channel&gt;&amp;");
    expect(body.text).not.toContain("<!channel>");
    expect((body.blocks[0] as { text: { text: string } }).text.text).toHaveLength(150);
  });

  it("rejects an unknown format by name, from env and from options", () => {
    expect(() => budgetConfigFromEnv({ BUDGET_ALERT_WEBHOOK: "http://127.0.0.1:9/h", BUDGET_ALERT_WEBHOOK_FORMAT: "discord" })).toThrow(
      /BUDGET_ALERT_WEBHOOK_FORMAT.*json, slack, teams, teams-legacy/,
    );
    expect(() => parseWebhookFormat(3, "webhook.format")).toThrow(/webhook\.format/);
    expect(budgetConfigFromEnv({ BUDGET_ALERT_WEBHOOK: "http://127.0.0.1:9/h", BUDGET_ALERT_WEBHOOK_FORMAT: "slack" }).webhook).toEqual({
      format: "slack",
      url: "http://127.0.0.1:9/h",
    });
  });
});
