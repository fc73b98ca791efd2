/**
 * The dashboard's browser script, served at `dashboard/app.js`. Plain ES2017 in a
 * string (the package compiles for Node, not the DOM); it reads the JSON API with
 * the key from local storage and draws with the Chart.js UMD build served beside it.
 * `window.tokenUsageDashboard` exposes the last data loaded, for tests and debugging.
 */
export const DASHBOARD_SCRIPT = String.raw`(function () {
  "use strict";
  var KEY_STORAGE = "token-usage-api-key";
  var DAY = 86400000;
  var state = { key: null, who: null, data: null, charts: {}, loads: 0 };
  window.tokenUsageDashboard = state;
  var $ = function (id) { return document.getElementById(id); };
  var timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  if (window.Chart) { Chart.defaults.animation = false; Chart.defaults.maintainAspectRatio = false; }

  function setState(name) { document.body.setAttribute("data-state", name); }
  function usd(n) { return "$" + Number(n || 0).toFixed(4); }
  function int(n) { return Number(n || 0).toLocaleString("en-US"); }
  function isoDate(d) {
    var local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
    return local.toISOString().slice(0, 10);
  }

  function takeKeyFromHash() {
    var m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
    if (!m) return;
    localStorage.setItem(KEY_STORAGE, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }

  function ApiError(status, body) { this.status = status; this.body = body; }

  function api(path, params) {
    var qs = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) {
      if (params[k] !== undefined && params[k] !== null && params[k] !== "") qs.set(k, params[k]);
    });
    var query = qs.toString();
    return fetch(path + (query ? "?" + query : ""), { headers: { "x-api-key": state.key } }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok) throw new ApiError(res.status, body);
        return body;
      });
    });
  }

  function showKeyPanel(message) {
    setState("need-key");
    $("content").hidden = true;
    $("key-panel").hidden = false;
    $("key-error").hidden = !message;
    $("key-error").textContent = message || "";
    $("key-input").focus();
  }

  function rangeParams() {
    var start = $("start").value;
    var end = $("end").value;
    var p = { timeZone: timeZone };
    if (start) p.start = new Date(start + "T00:00:00").toISOString();
    if (end) p.end = new Date(new Date(end + "T00:00:00").getTime() + DAY).toISOString();
    else p.end = new Date().toISOString();
    if (!start) p.days = 30;
    return p;
  }

  function setPreset(days) {
    var today = new Date();
    $("end").value = isoDate(today);
    $("start").value = isoDate(new Date(today.getTime() - (days - 1) * DAY));
  }

  // Splits a long model name at its hyphens into lines of at most max characters (a
  // part longer than that keeps a line of its own), so no name is cut at the edge.
  function wrapLabel(text, max) {
    text = String(text);
    if (text.length <= max) return text;
    var lines = [], line = "";
    var parts = text.split("-");
    parts.forEach(function (part, i) {
      if (i < parts.length - 1) part += "-";
      if (line && (line + part).length > max) { lines.push(line); line = part; } else { line += part; }
    });
    if (line) lines.push(line);
    return lines;
  }

  function chart(id, type, labels, values, label) {
    var existing = state.charts[id];
    if (existing) {
      existing.data.labels = labels;
      existing.data.datasets[0].data = values;
      existing.update();
      return existing;
    }
    var palette = ["#3461d1", "#d1346e", "#34a0d1", "#e0a100", "#2e9e5b", "#8a4fd1", "#d16a34", "#5b6b85"];
    state.charts[id] = new Chart($(id), {
      type: type,
      data: {
        labels: labels,
        datasets: [{
          label: label,
          data: values,
          borderColor: type === "line" ? palette[0] : undefined,
          backgroundColor: type === "line" ? "rgba(52,97,209,0.15)" : palette,
          fill: type === "line",
          tension: 0
        }]
      },
      // Model names are long: bars run sideways so each name is written out in full on
      // its own line instead of rotated and cut at the canvas edge on a phone.
      options: {
        responsive: true,
        indexAxis: type === "bar" ? "y" : "x",
        scales: type === "bar" ? { y: { ticks: { callback: function (value) { return wrapLabel(this.getLabelForValue(value), 18); } } } } : undefined,
        plugins: { legend: { display: type === "doughnut" } }
      }
    });
    return state.charts[id];
  }

  function fillTable(id, rows, cells) {
    var body = $(id).querySelector("tbody");
    body.textContent = "";
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      cells(row).forEach(function (c, i) {
        var td = document.createElement("td");
        td.textContent = c;
        if (i > 0 && /^[$0-9,.]+$/.test(c)) td.className = "num";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function statusItems(status) {
    if (Array.isArray(status)) return status;
    if (status && typeof status === "object") {
      var keys = ["limits", "statuses", "budgets", "items"];
      for (var i = 0; i < keys.length; i++) if (Array.isArray(status[keys[i]])) return status[keys[i]];
    }
    return [];
  }

  function renderBudgets(status) {
    var items = statusItems(status);
    var box = $("budgets");
    box.textContent = "";
    $("budget-section").hidden = status === null;
    if (status !== null && items.length === 0) box.textContent = "No limits apply.";
    items.forEach(function (item) {
      var limit = Number(item.limit || 0);
      var used = Number(item.used || 0);
      var pct = limit > 0 ? Math.min(100, (used / limit) * 100) : 0;
      var g = document.createElement("div");
      g.className = "gauge";
      var title = document.createElement("div");
      title.textContent = (item.limitId || item.id || item.scope || "limit") + ": " + used + " of " + limit +
        (item.metric === "cost" ? " USD" : item.metric ? " " + item.metric : "") + " (" + pct.toFixed(0) + "%)";
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

  function render(d) {
    var s = d.summary;
    $("total-cost").textContent = usd(s.totalCost);
    $("total-requests").textContent = int(s.totalRequests);
    $("total-tokens").textContent = int(s.totalTokens);
    $("unpriced").textContent = int(s.unpricedRequests);
    var empty = s.totalRequests === 0;
    $("empty").hidden = !empty;
    chart("trend-chart", "line", d.trend.map(function (p) { return p.date; }), d.trend.map(function (p) { return p.cost; }), "Cost (USD)");
    chart("model-chart", "bar", d.byModel.map(function (m) { return m.key; }), d.byModel.map(function (m) { return m.totalCost; }), "Cost (USD)");
    chart("agent-chart", "doughnut", d.byAgent.map(function (a) { return a.key; }), d.byAgent.map(function (a) { return a.totalCost; }), "Cost (USD)");
    $("top-users-section").hidden = d.topUsers === null;
    fillTable("top-users", d.topUsers || [], function (u) { return [u.key, int(u.totalRequests), int(u.totalTokens), usd(u.totalCost)]; });
    fillTable("top-threads", d.topThreads, function (t) { return [t.key, t.userId || "", int(t.totalRequests), usd(t.totalCost)]; });
    renderBudgets(d.budget);
    setState(empty ? "empty" : "ready");
  }

  function optional(promise, statuses) {
    return promise.catch(function (e) {
      if (e instanceof ApiError && statuses.indexOf(e.status) >= 0) return null;
      throw e;
    });
  }

  function load() {
    var loadId = ++state.loads;
    setState("loading");
    $("loading").hidden = false;
    $("load-error").hidden = true;
    var range = rangeParams();
    var admin = state.who && state.who.role === "admin";
    var user = admin ? $("user-filter").value.trim() : state.who.userId;
    var scoped = Object.assign({}, range, admin && user ? { userId: user } : {});
    var budgetUser = user || null;
    return Promise.all([
      api("token-usage/summary", scoped),
      api("token-usage/trend", scoped),
      api("token-usage/by-model", scoped),
      api("token-usage/by-agent", scoped),
      api("token-usage/top-threads", Object.assign({ limit: 10 }, scoped)),
      admin && !user ? api("token-usage/top-users", Object.assign({ limit: 10 }, range)) : Promise.resolve(null),
      budgetUser ? optional(api("budgets/status/" + encodeURIComponent(budgetUser)), [404, 501]) : Promise.resolve(null)
    ]).then(function (r) {
      if (loadId !== state.loads) return;
      state.data = { range: scoped, summary: r[0], trend: r[1], byModel: r[2], byAgent: r[3], topThreads: r[4], topUsers: r[5], budget: r[6] };
      $("loading").hidden = true;
      render(state.data);
    }).catch(function (e) {
      if (loadId !== state.loads) return;
      $("loading").hidden = true;
      if (e instanceof ApiError && e.status === 401) return showKeyPanel("That key was not accepted.");
      setState("error");
      $("load-error").hidden = false;
      $("load-error").textContent = (e && e.body && e.body.message) || String(e && e.message || e);
    });
  }

  function start() {
    state.key = localStorage.getItem(KEY_STORAGE);
    if (!state.key) return showKeyPanel("");
    return api("token-usage/whoami").then(function (who) {
      state.who = who;
      $("key-panel").hidden = true;
      $("content").hidden = false;
      $("who").textContent = who.role === "admin" ? "admin" : "user " + who.userId;
      $("user-filter").disabled = who.role !== "admin";
      if (who.role !== "admin") $("user-filter").value = who.userId;
      return load();
    }).catch(function (e) {
      if (e instanceof ApiError && e.status === 401) return showKeyPanel("That key was not accepted.");
      showKeyPanel("Could not reach the server: " + (e && e.message));
    });
  }

  $("key-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    localStorage.setItem(KEY_STORAGE, $("key-input").value.trim());
    $("key-input").value = "";
    start();
  });
  $("sign-out").addEventListener("click", function () { localStorage.removeItem(KEY_STORAGE); showKeyPanel(""); });
  $("apply").addEventListener("click", function () { load(); });
  $("start").addEventListener("change", function () { if (state.who) load(); });
  $("end").addEventListener("change", function () { if (state.who) load(); });
  $("user-filter").addEventListener("keydown", function (ev) { if (ev.key === "Enter") load(); });
  Array.prototype.forEach.call(document.querySelectorAll("[data-days]"), function (b) {
    b.addEventListener("click", function () { setPreset(Number(b.getAttribute("data-days"))); if (state.who) load(); });
  });

  setPreset(30);
  takeKeyFromHash();
  start();
})();
`;
