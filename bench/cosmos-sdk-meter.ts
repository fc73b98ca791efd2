/**
 * Counts what the `@azure/cosmos` SDK sends and receives, as a client plugin (one
 * call per network request, retries included), and prices it with Microsoft's
 * published request-unit model ("Understand request unit consumption", Azure Cosmos
 * DB docs): a point read and a write cost what the table gives for the document's
 * size (1 KB: read 1.00 RU, write 4.95 RU; 2 KB: 1.04 / 6.29; 4 KB: 1.14 / 6.67; ...),
 * interpolated linearly between sizes and never below the 1 KB row. A patch is
 * priced as a write of the whole resulting document (the Patch FAQ: patch is
 * "normalized into request unit billing in the same way as other database
 * operations"); a transactional batch as the sum of its operations; a point read
 * answered 404 as 1 RU; a query as 2.5 RU plus a read of each document returned
 * (an assumption: the published table has no query row).
 */
import { CosmosClient, type PluginConfig } from "@azure/cosmos";

const KB = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048];
const READ_RU = [1.0, 1.04, 1.14, 1.33, 1.67, 2.19, 4.76, 9.95, 20.28, 40.95, 145.9, 291.8];
const WRITE_RU = [4.95, 6.29, 6.67, 7.04, 9.52, 11.23, 22.67, 48.19, 98.29, 184.57, 625.0, 1250.0];
const QUERY_BASE_RU = 2.5;

function interpolate(table: number[], bytes: number): number {
  const kb = bytes / 1024;
  if (kb <= KB[0]) return table[0];
  for (let i = 1; i < KB.length; i++) {
    if (kb <= KB[i]) return table[i - 1] + ((kb - KB[i - 1]) / (KB[i] - KB[i - 1])) * (table[i] - table[i - 1]);
  }
  return table[table.length - 1] * (kb / KB[KB.length - 1]);
}

export const readRu = (bytes: number) => interpolate(READ_RU, bytes);
export const writeRu = (bytes: number) => interpolate(WRITE_RU, bytes);
const size = (doc: unknown) => Buffer.byteLength(JSON.stringify(doc ?? {}));

export interface MeterCounts {
  requests: number;
  /** Documents returned by point reads and queries. */
  documentsRead: number;
  /** Documents created, replaced or patched (batch and bulk operations included). */
  documentsWritten: number;
  ru: number;
}

export class SdkMeter {
  counts: MeterCounts = { requests: 0, documentsRead: 0, documentsWritten: 0, ru: 0 };

  reset(): MeterCounts {
    const c = this.counts;
    this.counts = { requests: 0, documentsRead: 0, documentsWritten: 0, ru: 0 };
    return c;
  }

  readonly plugin: PluginConfig = {
    on: "request",
    plugin: async (context, _node, next) => {
      const c = this.counts;
      c.requests++;
      const op = String(context.operationType ?? "");
      const isDocs = String(context.resourceType ?? "") === "docs";
      let response;
      try {
        response = await next(context);
      } catch (err) {
        if (isDocs && op === "read") c.ru += 1;
        throw err;
      }
      if (!isDocs) return response;
      const result = response.result as unknown;
      if (op === "read") {
        c.documentsRead++;
        c.ru += readRu(size(result));
      } else if (op === "query") {
        const docs = ((result as { Documents?: unknown[] })?.Documents ?? []) as unknown[];
        c.documentsRead += docs.length;
        c.ru += QUERY_BASE_RU + docs.reduce<number>((s, d) => s + readRu(size(d)), 0);
      } else if (op === "batch") {
        const body = typeof context.body === "string" ? JSON.parse(context.body) : context.body;
        const ops = (Array.isArray(body) ? body : []) as Array<{ operationType: string; resourceBody?: unknown }>;
        const results = (Array.isArray(result) ? result : []) as Array<{ statusCode: number; resourceBody?: unknown }>;
        ops.forEach((o, i) => {
          const r = results[i];
          if (!r || r.statusCode >= 400) return;
          if (o.operationType === "Read") {
            c.documentsRead++;
            c.ru += readRu(size(r.resourceBody));
          } else {
            c.documentsWritten++;
            c.ru += writeRu(size(r.resourceBody ?? o.resourceBody));
          }
        });
      } else if (op === "create" || op === "replace" || op === "upsert" || op === "patch") {
        c.documentsWritten++;
        c.ru += writeRu(size(result));
      }
      return response;
    },
  };
}

/** A client of the local server whose every network request passes through `meter`. */
export function meteredClient(endpoint: string, key: string, meter: SdkMeter): CosmosClient {
  // `plugins` is a documented-but-hidden client option (PluginConfig).
  return new CosmosClient({
    endpoint,
    key,
    connectionPolicy: { enableEndpointDiscovery: false },
    plugins: [meter.plugin],
  } as ConstructorParameters<typeof CosmosClient>[0]);
}
