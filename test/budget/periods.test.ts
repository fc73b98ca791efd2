import { describe, expect, it } from "vitest";
import { windowAt, zonedInstant } from "../../src/budget/periods.js";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const at = (spec: Parameters<typeof windowAt>[0], now: string) => {
  const w = windowAt(spec, Date.parse(now));
  return { start: iso(w.start), end: iso(w.end), resetsAt: iso(w.resetsAt) };
};

describe("period windows", () => {
  const ny9 = { period: "day" as const, timeZone: "America/New_York", resetTime: "09:00" };

  it("starts a day at the reset time in the zone, and a day across spring-forward lasts 23 hours", () => {
    // 2026-03-08 is the US DST change: 09:00 is 14:00Z before, 13:00Z after.
    expect(at(ny9, "2026-03-08T12:59:59.999Z")).toEqual({
      start: "2026-03-07T14:00:00.000Z",
      end: "2026-03-08T13:00:00.000Z",
      resetsAt: "2026-03-08T13:00:00.000Z",
    });
    expect(at(ny9, "2026-03-08T13:00:00.000Z").start).toBe("2026-03-08T13:00:00.000Z");
    expect(at(ny9, "2026-03-08T13:00:00.000Z").end).toBe("2026-03-09T13:00:00.000Z");
  });

  it("a day across fall-back lasts 25 hours", () => {
    const w = windowAt({ period: "day", timeZone: "Europe/Paris", resetTime: "00:00" }, Date.parse("2026-10-25T12:00:00Z"));
    expect(iso(w.start)).toBe("2026-10-24T22:00:00.000Z");
    expect(iso(w.end)).toBe("2026-10-25T23:00:00.000Z");
    expect((w.end - w.start) / 3_600_000).toBe(25);
  });

  it("before the reset time it is still the previous day", () => {
    expect(at({ period: "day", timeZone: "Asia/Tokyo", resetTime: "06:30" }, "2026-05-01T21:00:00Z").start).toBe("2026-04-30T21:30:00.000Z");
    expect(at({ period: "day", timeZone: "Asia/Tokyo", resetTime: "06:30" }, "2026-05-01T21:40:00Z").start).toBe("2026-05-01T21:30:00.000Z");
  });

  it("months start on the 1st in the zone, including a month that changes offset", () => {
    const paris = { period: "month" as const, timeZone: "Europe/Paris", resetTime: "00:00" };
    expect(at(paris, "2026-03-31T21:59:59Z")).toEqual({
      start: "2026-02-28T23:00:00.000Z",
      end: "2026-03-31T22:00:00.000Z",
      resetsAt: "2026-03-31T22:00:00.000Z",
    });
    expect(at(paris, "2026-03-31T22:00:00Z").start).toBe("2026-03-31T22:00:00.000Z");
    expect(at({ period: "month", timeZone: "UTC", resetTime: "00:00" }, "2026-12-31T23:59:00Z").end).toBe("2027-01-01T00:00:00.000Z");
  });

  it("weeks start on Monday", () => {
    expect(at({ period: "week", timeZone: "UTC", resetTime: "00:00" }, "2026-03-08T12:00:00Z")).toEqual({
      start: "2026-03-02T00:00:00.000Z",
      end: "2026-03-09T00:00:00.000Z",
      resetsAt: "2026-03-09T00:00:00.000Z",
    });
  });

  it("rolling windows are the last N hours and never reset", () => {
    expect(at({ period: { rollingHours: 5 }, timeZone: "UTC", resetTime: "00:00" }, "2026-01-01T03:00:00Z")).toEqual({
      start: "2025-12-31T22:00:00.000Z",
      end: "2026-01-01T03:00:00.000Z",
      resetsAt: null,
    });
  });

  it("a reset time inside a DST gap moves forward by the gap; an ambiguous one is its first occurrence", () => {
    // Berlin skips 02:00-03:00 on 2026-03-29: 02:30 does not exist -> 03:30 CEST = 01:30Z.
    expect(iso(zonedInstant(Date.UTC(2026, 2, 29), 2, 30, "Europe/Berlin"))).toBe("2026-03-29T01:30:00.000Z");
    // Berlin repeats 02:00-03:00 on 2026-10-25: 02:30 CEST = 00:30Z comes first.
    expect(iso(zonedInstant(Date.UTC(2026, 9, 25), 2, 30, "Europe/Berlin"))).toBe("2026-10-25T00:30:00.000Z");
    expect(iso(zonedInstant(Date.UTC(2026, 0, 15), 5, 45, "Asia/Kathmandu"))).toBe("2026-01-15T00:00:00.000Z");
  });
});
