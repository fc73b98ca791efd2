/**
 * This period against the one just before it, of the same length: cost, tokens and
 * calls with the change in percent. One extra /summary call per load.
 */
export const CLIENT_COMPARE = String.raw`
  function previousRange(range) {
    var start = Date.parse(range.start);
    var end = Date.parse(range.end);
    return { timeZone: range.timeZone, start: new Date(start - (end - start)).toISOString(), end: new Date(start).toISOString() };
  }

  function change(current, previous) {
    if (previous === 0) return current === 0 ? "0.0%" : "new";
    var pct = ((current - previous) / previous) * 100;
    return (pct > 0 ? "+" : "") + pct.toFixed(1) + "%";
  }

  function renderCompare(current, previous, prev) {
    $("compare-range").textContent = "(previous: " + prev.start.slice(0, 10) + " to " + new Date(Date.parse(prev.end) - 1).toISOString().slice(0, 10) + ")";
    var rows = [
      ["Cost", money(current.totalCost), money(previous.totalCost), change(current.totalCostNanos, previous.totalCostNanos)],
      ["Tokens", int(current.totalTokens), int(previous.totalTokens), change(current.totalTokens, previous.totalTokens)],
      ["Calls", int(current.totalRequests), int(previous.totalRequests), change(current.totalRequests, previous.totalRequests)]
    ];
    fillTable("compare", rows, function (r) { return r; });
  }
`;
