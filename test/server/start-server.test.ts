import { describe, expect, it } from "vitest";
import Fastify from "fastify";
import { createApiKey } from "../../src/server/auth/api-keys.js";
import { isLoopback, startServer } from "../../src/server/start-server.js";
import { tokenUsagePlugin } from "../../src/server/plugin.js";
import { buildApp } from "../../src/server/build-app.js";
import { ADMIN_KEY, seed } from "./support.js";

describe("startServer", () => {
  it("knows loopback hosts", () => {
    expect(["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"].every(isLoopback)).toBe(true);
    expect(["0.0.0.0", "::", "192.168.1.4", "example.com", "127.0.0.1.example.com"].some(isLoopback)).toBe(false);
  });

  it("refuses a non-loopback host while no key is configured, and allows it once one exists", async () => {
    const seeded = await seed([]);
    const monitor = seeded.monitor;
    try {
      for (const s of await monitor.store.listSettings("api-keys")) await monitor.store.deleteSetting("api-keys", s.key);
      await expect(startServer({ monitor, host: "0.0.0.0", port: 0, env: {} })).rejects.toThrow(/refusing to listen on 0\.0\.0\.0/);
      await createApiKey(monitor.store, { userId: "alice" });
      const running = await startServer({ monitor, host: "0.0.0.0", port: 0, env: {} });
      await running.close();
    } finally {
      await monitor.close();
    }
  });

  it("listens on 127.0.0.1 and answers over real HTTP", async () => {
    const seeded = await seed();
    const running = await startServer({ monitor: seeded.monitor, port: 0, adminKey: ADMIN_KEY });
    try {
      expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await (await fetch(`${running.url}/health`)).json()).toEqual({ status: "ok", store: "sqlite" });
      const res = await fetch(`${running.url}/token-usage/user/alice`, { headers: { authorization: `Bearer ${seeded.aliceKey}` } });
      expect(((await res.json()) as { totalRequests: number }).totalRequests).toBe(3);
      const csv = await fetch(`${running.url}/token-usage/export.csv`, { headers: { "x-api-key": ADMIN_KEY } });
      expect(csv.headers.get("transfer-encoding")).toBe("chunked");
      expect((await csv.text()).trim().split("\n")).toHaveLength(6);
    } finally {
      await running.close();
      await seeded.monitor.close();
    }
  });

  it("rejects a short admin key", async () => {
    const seeded = await seed([]);
    try {
      await expect(buildApp({ monitor: seeded.monitor, adminKey: "short" })).rejects.toThrow(/adminKey/);
    } finally {
      await seeded.monitor.close();
    }
  });
});

describe("tokenUsagePlugin in an existing app", () => {
  it("mounts under a prefix and leaves the host app's routes alone", async () => {
    const seeded = await seed();
    const host = Fastify();
    host.get("/mine", async () => ({ open: true }));
    await host.register(tokenUsagePlugin, { monitor: seeded.monitor, adminKey: ADMIN_KEY, prefix: "/usage", dashboard: false, env: {} });
    try {
      expect((await host.inject({ url: "/mine" })).json()).toEqual({ open: true });
      expect((await host.inject({ url: "/usage/token-usage/summary" })).statusCode).toBe(401);
      const res = await host.inject({ url: "/usage/token-usage/summary", headers: { "x-api-key": seeded.aliceKey } });
      expect(res.json().totalRequests).toBe(3);
      expect((await host.inject({ url: "/usage/" })).statusCode).toBe(404);
    } finally {
      await host.close();
      await seeded.monitor.close();
    }
  });
});
