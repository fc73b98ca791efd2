/**
 * Streams records as CSV while paging through `getAllUsage`: one page (at most
 * `MAX_PAGE_SIZE` records) is in memory at a time, and csv-stringify's back-pressure
 * pauses paging while the client reads slowly.
 */
import { Readable, pipeline } from "node:stream";
import { stringify, type Stringifier } from "csv-stringify";
import { MAX_PAGE_SIZE, type ListOptions, type RecordPage, type UsageQueries } from "../../query/usage-queries.js";
import { EXPORT_COLUMNS, recordToCsvRow } from "./record-columns.js";

/** Pages through every record matching `options`, starting from an already fetched first page. */
export async function* pagesFrom(monitor: UsageQueries, options: ListOptions, first: RecordPage): AsyncGenerator<RecordPage> {
  let page = first;
  for (;;) {
    yield page;
    if (!page.cursor) return;
    page = await monitor.getAllUsage({ ...options, cursor: page.cursor });
  }
}

/**
 * Fetches the first page before returning, so a bad filter is still a 400 and not
 * a broken stream; the rest is fetched as the client reads.
 */
export async function csvExportStream(monitor: UsageQueries, options: Omit<ListOptions, "limit" | "cursor">): Promise<Stringifier> {
  const listOptions: ListOptions = { ...options, limit: MAX_PAGE_SIZE };
  const first = await monitor.getAllUsage(listOptions);
  async function* rows(): AsyncGenerator<string[]> {
    for await (const page of pagesFrom(monitor, listOptions, first)) {
      for (const record of page.records) yield recordToCsvRow(record);
    }
  }
  const stringifier = stringify({ header: true, columns: [...EXPORT_COLUMNS] });
  // pipeline tears both down together: a store error ends the response, a client
  // that disconnects stops the paging.
  pipeline(Readable.from(rows()), stringifier, () => undefined);
  return stringifier;
}
