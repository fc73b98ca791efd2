/**
 * Golden records: every captured provider fixture (and variants that exercise metadata,
 * secrets, tags, dimensions, errors and cache hits) goes through the real tracking handler,
 * and the records it builds must equal the committed ones in `golden-records.json`, field
 * for field. Speed work on the handler, the record, pricing or metadata sanitising cannot
 * change what is stored without this test failing. The records are then written through the
 * default store (SQLite on its worker thread, a temp file) and read back: what the store
 * keeps must be the same records.
 *
 * Only what varies by run is normalised: the timestamp (the wall clock at start) and the
 * latency. Regenerate after an intended change with `UPDATE_GOLDEN=1 npx vitest run test/record/golden-records.test.ts`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { TokenTrackingCallbackHandler } from "../../src/handler/token-tracking-handler.js";
import { createPricer } from "../../src/pricing/index.js";
import type { UsageRecord } from "../../src/record/types.js";
import { SqliteWorkerStore } from "../../src/stores/sqlite/index.js";
import type { DeferredRecord, RecordSink } from "../../src/writer/buffered-writer.js";
import { FIXTURE_NAMES, loadFixture } from "../fixtures/providers.js";

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "../fixtures/golden-records.json");
const SK = "sk-proj-Zx81kQm2TnVb7Lp0WcYr4HdE";

/** Collects what the handler hands over, building deferred records as the writer would. */
class CollectingSink implements RecordSink {
  readonly records: UsageRecord[] = [];
  private readonly deferred: DeferredRecord[] = [];
  enqueue(record: UsageRecord): void {
    this.records.push(record);
  }
  enqueueDeferred(build: DeferredRecord): void {
    this.deferred.push(build);
  }
  drain(): UsageRecord[] {
    for (const build of this.deferred.splice(0)) {
      const r = build();
      if (r) this.records.push(r);
    }
    return this.records.splice(0);
  }
}

/** A stable UUID per case, so ids (idempotency keys) are part of the comparison. */
function runIdFor(i: number, j = 0): string {
  return `00000000-0000-4000-8000-${(i * 100 + j).toString(16).padStart(12, "0")}`;
}

/** Application metadata exercising the sanitising and secret rules. */
const APP_METADATA = {
  user_id: "user-42",
  request_kind: "support",
  api_key: SK,
  note: `called with Authorization: Bearer ${SK}`,
  nested: { depth1: { depth2: { depth3: { depth4: { depth5: "deep" } } } }, list: [1, "two", null, true, { password: "hunter2" }] },
  big: "x".repeat(1500),
  when: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
  fn: () => 1,
  notANumber: Number.NaN,
  tenant: "acme",
  langgraph_node: "agent",
};

interface Variant {
  name: string;
  metadata: (base: Record<string, unknown>) => Record<string, unknown>;
  tags?: string[];
  outcome: "end" | "cached" | "error";
}

const VARIANTS: Variant[] = [
  { name: "plain", metadata: (base) => base, outcome: "end" },
  { name: "app-metadata", metadata: (base) => ({ ...base, ...APP_METADATA }), tags: ["prod", `token=${SK}`, "x".repeat(600)], outcome: "end" },
  { name: "cached", metadata: (base) => ({ ...base, user_id: "user-7" }), outcome: "cached" },
  { name: "error", metadata: (base) => ({ ...base, user_id: "user-9", session: "s1" }), outcome: "error" },
];

function buildAll(): Record<string, UsageRecord[]> {
  const sink = new CollectingSink();
  const handler = new TokenTrackingCallbackHandler({
    sink,
    pricer: createPricer({}),
    agentName: "golden",
    dimensions: { feature: "chat", department: "support" },
    logger: { warn: () => undefined, error: () => undefined },
  });
  const out: Record<string, UsageRecord[]> = {};
  FIXTURE_NAMES.forEach((name, i) => {
    VARIANTS.forEach((variant, j) => {
      const f = loadFixture(name);
      const runId = runIdFor(i, j);
      const metadata = variant.metadata(f.start.metadata ?? {});
      handler.handleChatModelStart(f.start.serialized, [], runId, undefined, f.start.extraParams, variant.tags, metadata, f.start.runName);
      for (const fields of f.streamChunkFields ?? []) handler.handleLLMNewToken("", { prompt: 0, completion: 0 }, runId, undefined, undefined, fields);
      if (variant.outcome === "error") {
        handler.handleLLMError(new Error(`401 Unauthorized: Incorrect API key provided: ${SK}`), runId);
      } else {
        const extra = variant.outcome === "cached" ? { ...f.end.extraParams, cached: true } : f.end.extraParams;
        handler.handleLLMEnd(f.end.output, runId, undefined, undefined, extra);
      }
      out[`${name}/${variant.name}`] = sink.drain();
    });
  });
  return out;
}

/** What varies by run: the start's wall clock and the measured latency. */
function normalise(r: UsageRecord): UsageRecord {
  return { ...r, timestamp: typeof r.timestamp === "string" && r.timestamp.endsWith("Z") ? "<timestamp>" : `<bad ${r.timestamp}>`, latencyMs: r.latencyMs === null ? null : -1 };
}

const built = buildAll();
if (process.env.UPDATE_GOLDEN === "1") {
  const golden = Object.fromEntries(Object.entries(built).map(([k, rs]) => [k, rs.map(normalise)]));
  writeFileSync(GOLDEN, JSON.stringify(golden, null, 2) + "\n");
}
const dir = mkdtempSync(join(tmpdir(), "tt-golden-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("golden records", () => {
  it("covers every provider fixture and variant", () => {
    expect(Object.keys(built)).toHaveLength(FIXTURE_NAMES.length * VARIANTS.length);
    for (const [key, records] of Object.entries(built)) expect(records, key).toHaveLength(1);
  });

  const golden = JSON.parse(readFileSync(GOLDEN, "utf8")) as Record<string, UsageRecord[]>;
  it("has a golden entry for every case and no stale ones", () => {
    expect(Object.keys(golden).sort()).toEqual(Object.keys(built).sort());
  });

  for (const key of Object.keys(golden)) {
    it(`${key}: the handler builds exactly the golden record`, () => {
      const records = built[key] ?? [];
      expect(records.map(normalise)).toStrictEqual(golden[key]);
      // No secret material reaches a record.
      expect(JSON.stringify(records)).not.toContain(SK.slice(3));
    });
  }

  it("the default store (SQLite on its worker thread) keeps exactly those records", async () => {
    const store = new SqliteWorkerStore({ path: join(dir, "golden.db") });
    try {
      const all = Object.values(built).flat();
      const result = await store.append(all);
      expect(result).toEqual({ inserted: all.length, duplicates: 0 });
      // Replaying the same records is idempotent.
      expect(await store.append(all.slice(0, 5))).toEqual({ inserted: 0, duplicates: 5 });
      for (const record of all) expect(await store.get(record.id)).toStrictEqual(record);
    } finally {
      await store.close();
    }
  });
});
