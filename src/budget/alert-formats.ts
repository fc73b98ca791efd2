/**
 * Budget alert bodies in the shapes chat tools accept on their incoming webhooks, so an
 * alert lands where people read it without a relay in between:
 *
 * - `json`: this package's own shape (`type: "budget_alert"`, `message`, every alert field);
 * - `slack`: a Slack incoming webhook message, `text` (the notification fallback) and
 *   Block Kit `blocks` (header, message, fields);
 * - `teams`: a Microsoft Teams Workflows webhook ("When a Teams webhook request is
 *   received"): a `message` whose attachment is an Adaptive Card, the only card the
 *   Workflows app posts;
 * - `teams-legacy`: the Office 365 connector `MessageCard`, for channels still on a
 *   connector webhook (Microsoft is retiring those).
 */
import { ValidationError } from "../errors.js";
import { formatAlert, type BudgetAlert } from "./alerts.js";

export const WEBHOOK_FORMATS = ["json", "slack", "teams", "teams-legacy"] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** Reads a format name (option, env or config file); `field` names the source in the error. */
export function parseWebhookFormat(value: unknown, field: string): WebhookFormat {
  const v = typeof value === "string" ? value.trim().toLowerCase() : value;
  if (v === undefined || v === "") return "json";
  if ((WEBHOOK_FORMATS as readonly unknown[]).includes(v)) return v as WebhookFormat;
  throw new ValidationError(field, `must be one of ${WEBHOOK_FORMATS.join(", ")}, got ${JSON.stringify(value)}`);
}

/** The JSON body POSTed for one alert in the given format. */
export function webhookBody(alert: BudgetAlert, format: WebhookFormat = "json"): unknown {
  const message = formatAlert(alert);
  switch (format) {
    case "slack":
      return slackMessage(alert, message);
    case "teams":
      return teamsAdaptiveCard(alert, message);
    case "teams-legacy":
      return teamsMessageCard(alert, message);
    default:
      return { type: "budget_alert", message, ...alert };
  }
}

function title(a: BudgetAlert): string {
  const label =
    a.level === "refused" ? "Call refused by budget" : a.level === "exceeded" ? "Budget exceeded" : a.level === "critical" ? "Budget critical" : "Budget warning";
  return `${label}: ${a.limitId}`;
}

/** Label/value pairs every chat format shows (strings, as the cards require). */
function facts(a: BudgetAlert): Array<[string, string]> {
  const unit = a.metric === "cost" ? "USD" : a.metric === "requests" ? "requests" : "tokens";
  const rows: Array<[string, string]> = [
    ["Used", `${readable(a.used)} of ${readable(a.limit)} ${unit} (${Math.round(a.fractionUsed * 1000) / 10}%)`],
    ["Scope", a.scope],
    ["Mode", a.mode],
  ];
  if (a.userId) rows.push(["User", a.userId]);
  rows.push(["Resets at", a.resetsAt ?? "never"]);
  return rows;
}

function readable(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 4 });
}

// Slack mrkdwn treats these three as control characters; user ids and limit ids are user input.
function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Slack caps header text at 150 characters and a section field at 2,000. */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function slackMessage(a: BudgetAlert, message: string) {
  return {
    text: slackEscape(message),
    blocks: [
      { type: "header", text: { type: "plain_text", text: cut(title(a), 150) } },
      { type: "section", text: { type: "mrkdwn", text: cut(slackEscape(message), 3000) } },
      {
        type: "section",
        fields: facts(a).map(([label, value]) => ({ type: "mrkdwn", text: cut(`*${label}*\n${slackEscape(value)}`, 2000) })),
      },
    ],
  };
}

function teamsAdaptiveCard(a: BudgetAlert, message: string) {
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            { type: "TextBlock", text: title(a), weight: "Bolder", size: "Medium", wrap: true, color: a.level === "warning" ? "Warning" : "Attention" },
            { type: "TextBlock", text: message, wrap: true },
            { type: "FactSet", facts: facts(a).map(([label, value]) => ({ title: label, value })) },
          ],
        },
      },
    ],
  };
}

function teamsMessageCard(a: BudgetAlert, message: string) {
  return {
    "@type": "MessageCard",
    "@context": "https://schema.org/extensions",
    summary: title(a),
    themeColor: a.level === "warning" ? "FFA500" : "D13438",
    title: title(a),
    text: message,
    sections: [{ facts: facts(a).map(([label, value]) => ({ name: label, value })) }],
  };
}
