/** Runs `fn` over `items` with at most `limit` calls in flight; rejects on the first failure. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Like `mapLimit`, but every started call is awaited before a failure is thrown, so
 * nothing is still writing in the background once the caller sees the error.
 */
export async function mapLimitSettled<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  let firstError: { error: unknown } | undefined;
  const out = await mapLimit(items, limit, async (item) => {
    if (firstError) return undefined as R;
    try {
      return await fn(item);
    } catch (error) {
      firstError ??= { error };
      return undefined as R;
    }
  });
  if (firstError) throw firstError.error;
  return out;
}
