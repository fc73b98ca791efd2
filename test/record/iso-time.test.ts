/** The short paths of iso-time.ts give exactly what Date gives, for every shape of input. */
import { describe, expect, it } from "vitest";
import { epochMsFromIso, isoFromEpochMs } from "../../src/record/iso-time.js";
import { seededRandom } from "../contract/make-record.js";

describe("record timestamps", () => {
  it("format as Date.toISOString does, inside and outside the short path's range", () => {
    const rand = seededRandom(17);
    const samples = [0, -1, 946_684_800_000, 946_684_799_999, 253_402_300_799_999, 253_402_300_800_000, 1.5e12 + 0.5, Date.UTC(2026, 10, 23, 23, 59, 59, 999)];
    for (let i = 0; i < 20_000; i++) samples.push(Math.floor(946_684_800_000 + rand() * 253_000_000_000_000));
    // Consecutive calls in time order share the cached minute; jumps change it.
    let t = Date.UTC(2030, 0, 1);
    for (let i = 0; i < 5000; i++) samples.push((t += Math.floor(rand() * 40)));
    for (const ms of samples) expect(isoFromEpochMs(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it("parse as Date.parse does, canonical or not, valid or not", () => {
    const rand = seededRandom(23);
    const texts = [
      "2026-11-23T08:00:00.000Z",
      "2026-11-23T08:00:59.999Z",
      "2026-11-23T08:00:60.000Z",
      "2026-11-23T08:00:0a.000Z",
      "2026-11-23T08:00:00.00aZ",
      "2026-13-01T00:00:00.000Z",
      "2026-02-30T00:00:00.000Z",
      "2026-11-23T24:00:00.000Z",
      "2026-11-23T08:60:00.000Z",
      "2026-11-23 08:00:00.000Z",
      "2026-11-23T08:00:00.000+01:00",
      "2026-11-23T08:00:00Z",
      "2026-11-23",
      "Mon Nov 23 2026 08:00:00 GMT",
      "+002026-11-23T08:00:00.000Z",
      "xxxx-11-23T08:00:00.000Z",
      "",
    ];
    for (let i = 0; i < 20_000; i++) texts.push(new Date(Math.floor(rand() * 253_402_300_799_999)).toISOString());
    for (const text of texts) expect(Object.is(epochMsFromIso(text), Date.parse(text)), text).toBe(true);
  });
});
