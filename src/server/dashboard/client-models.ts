/**
 * Per model: calls, errors with their rate, p50/p95 latency (from
 * /latency-by-model, which reads a bounded sample of the newest calls), and the
 * models whose calls have no price (from /by-model's exact counts).
 */
export const CLIENT_MODELS = String.raw`
  function renderModels(latency, byModel) {
    $("latency-note").textContent = latency.truncated
      ? "Latency from the newest " + int(latency.sampled) + " calls (since " + String(latency.oldestSampled).slice(0, 16).replace("T", " ") + ")."
      : "";
    fillTable("models", latency.models, function (m) {
      return [m.model, int(m.requests), int(m.errors) + " (" + percent(m.errorRate) + ")", ms(m.p50Ms), ms(m.p95Ms)];
    });
    var unpriced = byModel.filter(function (m) { return m.unpricedRequests > 0; });
    $("unpriced-none").hidden = unpriced.length > 0;
    $("unpriced-models").hidden = unpriced.length === 0;
    fillTable("unpriced-models", unpriced, function (m) { return [m.key, m.provider || "", int(m.unpricedRequests)]; });
  }
`;
