/**
 * Usage no check saw still counts. Two monitors with their guards on one SQLite file:
 * A enforces a per-user limit (its checks create the shared counter); B tracks calls
 * through a real ChatOpenAI without enforcement (no check, so no counter of its own in
 * memory). B's stored records must reach the shared counter, once, and B must not take
 * a lease it never admits from.
 */
import { ChatOpenAI } from "@langchain/openai";
import { afterEach, describe, expect, it } from "vitest";
import { attachTokenTracking } from "../../src/handler/attach.js";
import { budgeted, startFakeOpenAI, tempDbPath } from "./support.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const PER_CALL = { prompt: 5, completion: 20 };
const LIMIT = { id: "user-daily", scope: "user:*", metric: "tokens", amount: 10_000, period: "day", mode: "block" } as const;

describe("records of calls no guard checked", () => {
  it("count in the shared counter once, without a lease for the process that wrote them", async () => {
    const server = await startFakeOpenAI(PER_CALL);
    const db = tempDbPath();
    const a = budgeted(db.path);
    const b = budgeted(db.path);
    cleanups.push(db.cleanup, () => server.close(), () => a.monitor.close(), () => b.monitor.close());
    await a.guard.setLimit(LIMIT);
    await b.guard.listLimits();
    const model = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", maxTokens: 20, maxRetries: 0, configuration: { baseURL: server.url } });

    // A admits and settles 3 calls of carol: the counter exists, with A's lease.
    for (let i = 0; i < 3; i++) {
      await model.invoke("hi", attachTokenTracking({ metadata: { user_id: "carol" } }, { monitor: a.monitor, extraHandlers: [a.guard.createHandler()] }));
    }
    await a.monitor.flush();
    await a.guard.flushUsage();
    // B only tracks: 4 calls of carol, 2 of dave (who has no counter yet anywhere).
    for (const user of ["carol", "carol", "carol", "carol", "dave", "dave"]) {
      await model.invoke("hi", attachTokenTracking({ metadata: { user_id: user } }, { monitor: b.monitor }));
    }
    await b.monitor.flush();
    await b.guard.flushUsage();
    await b.guard.flushUsage();
    expect(server.requests).toBe(9);

    const per = PER_CALL.prompt + PER_CALL.completion;
    const used = async (user: string) => (await a.guard.getBudgetStatus(user)).find((s) => s.limitId === LIMIT.id)!.used;
    expect(await used("carol")).toBe(7 * per);
    expect(await used("dave")).toBe(2 * per);
    // Read straight from the store: B holds no lease on either counter (it never admitted a call).
    const day = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
    const [carol, dave] = await a.monitor.store.readBudgetCounters(
      [
        { key: `${LIMIT.id}|carol|${day}`, partition: "carol" },
        { key: `${LIMIT.id}|dave|${day}`, partition: "dave" },
      ],
      Date.now(),
    );
    expect(carol!.used).toBe(7 * per);
    expect(dave!.used).toBe(2 * per);
    expect(dave!.leased).toBe(0);
  });
});
