/**
 * No secret is ever stored: the credentials an attacker found stored (issue list) and the
 * documented key and value rule (src/record/redact-secrets.ts), checked on what a real SQLite
 * store gives back, and through a real ChatOpenAI whose provider error echoes its key.
 */
import { HumanMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { attachTokenTracking, createTokenMonitor } from "../../src/index.js";
import { isSecretKey, redactSecrets } from "../../src/record/redact-secrets.js";
import { sanitizeMetadata } from "../../src/record/sanitize-metadata.js";
import { sendJson, startServer } from "../providers/fake-servers/shared.js";

const SK = "sk-proj-Zx81kQm2TnVb7Lp0WcYr4HdE";
const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IiLCJleHAiOjE5MDAwMDAwMDB9.c2lnbmF0dXJlLW9mLXRoZS1qd3Q";
const PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7s3cretPemBody\n-----END RSA PRIVATE KEY-----";
const CONNECTION = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0LWFjY291bnQta2V5PT0=;EndpointSuffix=core.windows.net";
/** Distinct secret material: none of these may appear anywhere in a stored record. */
const MATERIAL = [SK.slice(3), "eyJzdWIiOiJib2Ii", "MIIEpAIBAAKCAQEA", "c2VjcmV0LWFjY291bnQta2V5", "hunter2", "rt-1f2e3d", "FwoGZXIvYXdzEB", "sess=abc123", "cred-key-42"];

const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", env: {}, logger: { warn: () => undefined, error: () => undefined } });
afterAll(() => monitor.close());

async function stored(id: string) {
  await monitor.flush();
  const { records } = await monitor.getAllUsage({ days: 1, end: new Date(Date.now() + 60_000) });
  const r = records.find((x) => x.id === id);
  expect(r).toBeDefined();
  return r!;
}

function expectNoMaterial(value: unknown): void {
  const text = JSON.stringify(value);
  for (const m of MATERIAL) expect(text, m).not.toContain(m);
}

describe("the credentials found stored are stored no more", () => {
  it("metadata keys, nested keys, values, tags and an error message", async () => {
    await monitor.trackUsage({
      id: "secrets-1",
      userId: "alice",
      provider: "openai",
      model: "gpt-4o",
      inputTokens: 10,
      outputTokens: 5,
      error: true,
      errorMessage: `401 Incorrect API key provided. Request headers: {"Authorization": "Bearer ${SK}"}`,
      tags: [`api_key=${SK}`, "team:search", `token=${JWT}`, "password: hunter2"],
      dimensions: { tenant: "acme", note: `Bearer ${SK}` },
      metadata: {
        private_key: PEM,
        refresh_token: "rt-1f2e3d",
        aws_session_token: "FwoGZXIvYXdzEB",
        cookie: "sess=abc123",
        credentials: { key: "cred-key-42" },
        connection: CONNECTION,
        nested: { deeper: { clientSecret: "hunter2", header: `Bearer ${JWT}`, pem: PEM } },
        // Kept: these are not secrets.
        max_tokens: 512,
        input_tokens: 10,
        tokens_used: 15,
        token_count: 3,
        author: "bob",
        session_id: "s-1",
        feature: "search",
      },
    });
    const r = await stored("secrets-1");
    expectNoMaterial(r);
    expect(r.requestMetadata).toMatchObject({ max_tokens: 512, input_tokens: 10, tokens_used: 15, token_count: 3, author: "bob", session_id: "s-1", feature: "search" });
    for (const key of ["private_key", "refresh_token", "aws_session_token", "cookie", "credentials"]) expect(r.requestMetadata).not.toHaveProperty(key);
    expect(r.requestMetadata.connection).toContain("AccountKey=[REDACTED]");
    expect(r.requestMetadata.connection).toContain("AccountName=acct");
    expect(r.tags).toEqual(["api_key=[REDACTED]", "team:search", "token=[REDACTED]", "password: [REDACTED]"]);
    expect(r.dimensions).toEqual({ tenant: "acme", note: "Bearer [REDACTED]" });
    expect(r.errorMessage).toContain("401 Incorrect API key provided");
    expect(r.errorMessage).toContain("[REDACTED]");
  });

  it("a provider error echoing the key, through a real ChatOpenAI and the handler", async () => {
    const server = await startServer((req, res) =>
      sendJson(res, 401, { error: { message: `Incorrect API key provided: ${String(req.headers.authorization)}`, type: "invalid_request_error" } }),
    );
    try {
      const model = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: SK, configuration: { baseURL: server.url }, maxRetries: 0 });
      const config = attachTokenTracking({ configurable: { user_id: "secrets-e2e" }, metadata: { api_token: SK, temperature_hint: "low" } }, { monitor });
      await expect(model.invoke([new HumanMessage("Hi")], config)).rejects.toThrow(/Incorrect API key/);
    } finally {
      await server.close();
    }
    await monitor.flush();
    const { records } = await monitor.getAllUsage({ userId: "secrets-e2e", days: 1, end: new Date(Date.now() + 60_000) });
    expect(records).toHaveLength(1);
    const r = records[0];
    expect(r.error).toBe(true);
    expect(r.errorMessage).toContain("Incorrect API key provided: Bearer [REDACTED]");
    expect(JSON.stringify(r)).not.toContain(SK.slice(3));
    expect(r.requestMetadata).toMatchObject({ temperature_hint: "low" });
  });
});

describe("metadata past the 8 KiB budget", () => {
  it("strings after the budget are dropped with their entries, never stored unredacted", () => {
    const metadata: Record<string, unknown> = {};
    for (let i = 0; i < 9; i++) metadata[`k${i}`] = { text: "y".repeat(1000), note: `Bearer ${SK}` };
    metadata.last = `api_key=${SK}`;
    const out = sanitizeMetadata(metadata);
    expect(out._truncated).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(out))).toBeLessThanOrEqual(8192);
    expect(Object.keys(out).length).toBeGreaterThan(3);
    expect(out).not.toHaveProperty("last");
    expect(JSON.stringify(out)).not.toContain(SK.slice(3));
    expect((out.k0 as { note: string }).note).toBe("Bearer [REDACTED]");
  });
});

describe("the documented key rule", () => {
  it.each([
    "api_key", "apiKey", "x-api-key", "private_key", "account_key", "key", "secret", "client_secret", "clientSecret", "password", "db_password",
    "passwd", "pwd", "passphrase", "cookie", "set-cookie", "credential", "credentials", "credentialId", "connection_string", "ConnectionString",
    "token", "access_token", "accessToken", "refresh_token", "id_token", "aws_session_token", "csrftoken", "x-auth-token", "authorization",
    "auth", "sig", "signature", "dsn",
  ])("%s is a secret", (key) => {
    expect(isSecretKey(key)).toBe(true);
    expect(sanitizeMetadata({ [key]: "value-1234", kept: 1 })).toEqual({ kept: 1 });
  });

  it.each([
    "max_tokens", "maxTokens", "input_tokens", "output_tokens", "total_tokens", "prompt_tokens", "completion_tokens", "cached_tokens",
    "reasoning_tokens", "tokens", "tokens_used", "token_count", "token_limit", "token_budget", "total_tokens_mismatch", "author", "authority_region",
    "session_id", "thread_id", "user_id", "tenant", "monkey_patch", "keyboard_layout", "model", "usage_missing",
  ])("%s is not a secret", (key) => {
    expect(isSecretKey(key)).toBe(false);
    expect(sanitizeMetadata({ [key]: 7 })).toEqual({ [key]: 7 });
  });
});

describe("the documented value rule", () => {
  it.each([
    ["an OpenAI key", `key is ${SK}`, "key is [REDACTED]"],
    ["an Anthropic key", "x sk-ant-api03-AbCdEf123456", "x [REDACTED]"],
    ["a Bearer header", `Authorization: Bearer ${JWT}`, "Authorization: [REDACTED]"],
    ["Bearer in prose", `got Bearer abc123def456 back`, "got Bearer [REDACTED] back"],
    ["a Basic header", "Basic dXNlcjpwYXNzd29yZA==", "Basic [REDACTED]"],
    ["a JWT alone", `jwt ${JWT}`, "jwt [REDACTED]"],
    ["a PEM block", `pem ${PEM} end`, "pem [REDACTED] end"],
    ["a cut PEM block", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqh", "[REDACTED]"],
    ["an Azure connection string", CONNECTION, "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=[REDACTED];EndpointSuffix=core.windows.net"],
    ["a Service Bus connection string", "Endpoint=sb://x/;SharedAccessKeyName=root;SharedAccessKey=abc123=", "Endpoint=sb://x/;SharedAccessKeyName=root;SharedAccessKey=[REDACTED]"],
    ["a SQL connection string", "Server=db;User Id=sa;Password=hunter2;", "Server=db;User Id=sa;Password=[REDACTED];"],
    ["a URL password", "postgres://bob:hunter2@db:5432/app", "postgres://bob:[REDACTED]@db:5432/app"],
    ["a JSON pair", '{"refresh_token": "rt-1f2e3d", "user": "bob"}', '{"refresh_token": "[REDACTED]", "user": "bob"}'],
    ["a single-quoted pair", "connect failed: password='hunter2' user='bob'", "connect failed: password='[REDACTED]' user='bob'"],
    ["an AWS key id", "id AKIAIOSFODNN7EXAMPLE", "id [REDACTED]"],
    ["a GitHub token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]"],
  ])("%s is redacted", (_name, input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it.each([
    "Basic authentication failed",
    "max_tokens=4096 temperature: 0.2",
    "rate limit reached at 2026-01-01T10:00:00Z, retry after: 20s",
    "https://api.openai.com/v1/chat/completions",
    "the task-key area",
  ])("%s is left alone", (text) => {
    expect(redactSecrets(text)).toBe(text);
  });
});

describe("redaction properties", () => {
  /** Text made mostly of the characters the rule cares about, so the property reaches its corners. */
  const text = fc.string({ unit: fc.constantFrom(..."aZk9=:;'\" -_./@sS", "Bearer ", "sk-", "key", "token", "eyJ", "://", "-----BEGIN A-----"), maxLength: 40 });
  const secret = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9]{24}$/).map((s) => ({ text: `sk-${s}`, material: s })),
    fc.stringMatching(/^[A-Za-z0-9]{20}$/).map((s) => ({ text: `Bearer ${s}`, material: s })),
    fc.stringMatching(/^[A-Za-z0-9]{12}$/).map((s) => ({ text: `eyJ${s}.eyJ${s}.${s}`, material: s })),
    fc.stringMatching(/^[A-Za-z0-9]{12}$/).map((s) => ({ text: `password=${s}`, material: s })),
    fc.stringMatching(/^[A-Za-z0-9]{12}$/).map((s) => ({ text: `"refresh_token": "${s}"`, material: s })),
    fc.stringMatching(/^[A-Za-z0-9]{12}$/).map((s) => ({ text: `AccountName=a;AccountKey=${s}==;`, material: s })),
  );

  it("redacting twice changes nothing more (an import of an export stays exact)", () => {
    fc.assert(fc.property(text, (t) => redactSecrets(redactSecrets(t)) === redactSecrets(t)), { numRuns: 2000 });
  });

  it("a credential between any two texts (space-separated) never survives", () => {
    fc.assert(
      fc.property(text, secret, text, (before, s, after) => {
        expect(redactSecrets(`${before} ${s.text} ${after}`)).not.toContain(s.material);
      }),
      { numRuns: 2000 },
    );
  });
});
