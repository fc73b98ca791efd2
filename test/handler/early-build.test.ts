/**
 * Records are built at the end of the turn in which their call ended, and the writer still
 * gets every one of them, whenever it asks: before the build ran, after it, or when it failed.
 */
import { describe, expect, it } from "vitest";
import { EarlyBuilder } from "../../src/handler/early-build.js";
import type { UsageRecord } from "../../src/record/types.js";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const fakeRecord = (id: string) => ({ id }) as unknown as UsageRecord;

describe("EarlyBuilder", () => {
  it("builds once, at the end of the turn, and hands the record to the writer", async () => {
    const builder = new EarlyBuilder();
    let builds = 0;
    const entries = ["a", "b", "c"].map((id) => builder.defer(() => (builds++, fakeRecord(id))));
    expect(builds).toBe(0); // nothing on the agent's synchronous path
    await turn();
    expect(builds).toBe(3);
    expect(entries.map((e) => e()?.id)).toEqual(["a", "b", "c"]);
    expect(builds).toBe(3);
  });

  it("builds on demand when the writer asks first (flush, spillAll), and not again later", async () => {
    const builder = new EarlyBuilder();
    let builds = 0;
    const entry = builder.defer(() => (builds++, fakeRecord("x")));
    expect(entry()?.id).toBe("x");
    expect(builds).toBe(1);
    await turn();
    expect(builds).toBe(1);
  });

  it("keeps a failed build's error for the writer, which reports it", async () => {
    const builder = new EarlyBuilder();
    const failure = new Error("corrupt usage");
    const entry = builder.defer(() => {
      throw failure;
    });
    await turn(); // the failure must not escape into the event loop
    expect(() => entry()).toThrow(failure);
  });

  it("schedules one build pass per turn, however many calls end in it", async () => {
    const builder = new EarlyBuilder();
    const order: string[] = [];
    builder.defer(() => (order.push("1"), fakeRecord("1")));
    builder.defer(() => (order.push("2"), fakeRecord("2")));
    await turn();
    builder.defer(() => (order.push("3"), fakeRecord("3")));
    await turn();
    expect(order).toEqual(["1", "2", "3"]);
  });
});
