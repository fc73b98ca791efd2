/**
 * Budget gauges: the shared (global) limits for an admin without a user filter, the
 * limits that apply to one user otherwise, in dollars and grouped token counts.
 */
export const CLIENT_BUDGETS = String.raw`
  function statusItems(status) {
    if (Array.isArray(status)) return status;
    if (status && typeof status === "object") {
      var keys = ["limits", "statuses", "budgets", "items"];
      for (var i = 0; i < keys.length; i++) if (Array.isArray(status[keys[i]])) return status[keys[i]];
    }
    return [];
  }

  function amount(metric, n) { return metric === "cost" ? money(n) : int(n); }

  function gaugeText(item) {
    var limit = Number(item.limit || 0);
    var used = Number(item.used || 0);
    var pct = limit > 0 ? (used / limit) * 100 : 0;
    var unit = item.metric === "cost" ? "" : " " + (item.metric || "tokens");
    return (item.limitId || item.id || item.scope || "limit") + ": " + amount(item.metric, used) + " of " + amount(item.metric, limit) + unit +
      " (" + pct.toFixed(0) + "%)";
  }

  function renderBudgets(status, scope) {
    var items = statusItems(status);
    var box = $("budgets");
    box.textContent = "";
    $("budget-section").hidden = status === null;
    $("budget-scope").textContent = scope ? "(" + scope + ")" : "";
    if (status !== null && items.length === 0) box.textContent = "No limits apply.";
    items.forEach(function (item) {
      var limit = Number(item.limit || 0);
      var pct = limit > 0 ? Math.min(100, (Number(item.used || 0) / limit) * 100) : 0;
      var g = document.createElement("div");
      g.className = "gauge";
      var title = document.createElement("div");
      title.textContent = gaugeText(item);
      var bar = document.createElement("div");
      bar.className = "bar";
      var fill = document.createElement("div");
      fill.className = "fill" + (pct >= 95 ? " bad" : pct >= 80 ? " warn" : "");
      fill.style.width = pct + "%";
      bar.appendChild(fill);
      g.appendChild(title);
      g.appendChild(bar);
      box.appendChild(g);
    });
  }
`;
