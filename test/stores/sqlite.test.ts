import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { describeUsageStoreContract } from "../contract/usage-store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "tt-sqlite-contract-"));
let n = 0;

describeUsageStoreContract("sqlite (file, WAL)", async () => new SqliteUsageStore({ path: join(dir, `store-${n++}.db`) }), {
  capabilities: { rollups: true, multiProcess: true, ttl: false },
});

describeUsageStoreContract("sqlite (:memory:)", async () => new SqliteUsageStore({ path: ":memory:" }), {
  capabilities: { rollups: true, multiProcess: false, ttl: false },
});
