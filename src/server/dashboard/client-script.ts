/**
 * The dashboard's browser script, served at `dashboard/app.js`. Plain ES2017 in
 * strings (the package compiles for Node, not the DOM), one module per view, joined
 * into one function scope here; it reads the JSON API with the key from local storage
 * and draws with the Chart.js UMD build served beside it.
 * `window.tokenUsageDashboard` exposes the last data loaded, for tests and debugging.
 */
import { CLIENT_BUDGETS } from "./client-budgets.js";
import { CLIENT_COMPARE } from "./client-compare.js";
import { CLIENT_CORE } from "./client-core.js";
import { CLIENT_CSV } from "./client-csv.js";
import { CLIENT_DIMENSIONS } from "./client-dimensions.js";
import { CLIENT_DRILLDOWN } from "./client-drilldown.js";
import { CLIENT_MODELS } from "./client-models.js";

const CLIENT_MAIN = String.raw`
  function takeKeyFromHash() {
    var m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
    if (!m) return;
    localStorage.setItem(KEY_STORAGE, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }

  function showKeyPanel(message) {
    setState("need-key");
    $("content").hidden = true;
    $("key-panel").hidden = false;
    $("key-error").hidden = !message;
    $("key-error").textContent = message || "";
    $("key-input").focus();
  }

  // Always an explicit start and end, so the previous period has the same length.
  function rangeParams() {
    var start = $("start").value;
    var end = $("end").value;
    var p = { timeZone: timeZone };
    p.end = end ? new Date(new Date(end + "T00:00:00").getTime() + DAY).toISOString() : new Date().toISOString();
    p.start = start ? new Date(start + "T00:00:00").toISOString() : new Date(Date.parse(p.end) - 30 * DAY).toISOString();
    return p;
  }

  function setPreset(days) {
    var today = new Date();
    $("end").value = isoDate(today);
    $("start").value = isoDate(new Date(today.getTime() - (days - 1) * DAY));
  }

  function render(d) {
    var s = d.summary;
    $("total-cost").textContent = usd(s.totalCost);
    $("total-requests").textContent = int(s.totalRequests);
    $("total-tokens").textContent = int(s.totalTokens);
    $("unpriced").textContent = int(s.unpricedRequests);
    $("empty").hidden = s.totalRequests !== 0;
    renderCompare(s, d.previous, d.previousRange);
    chart("trend-chart", "line", d.trend.map(function (p) { return p.date; }), d.trend.map(function (p) { return p.cost; }), "Cost (USD)");
    chart("model-chart", "bar", d.byModel.map(function (m) { return m.key; }), d.byModel.map(function (m) { return m.totalCost; }), "Cost (USD)");
    chart("agent-chart", "doughnut", d.byAgent.map(function (a) { return a.key; }), d.byAgent.map(function (a) { return a.totalCost; }), "Cost (USD)");
    $("top-users-section").hidden = d.topUsers === null;
    fillTable("top-users", d.topUsers || [], function (u) { return [u.key, int(u.totalRequests), int(u.totalTokens), usd(u.totalCost)]; },
      function (u) { drillThreads(u.key).then(function () { $("drill-section").scrollIntoView(); }); }, function (u) { return u.key !== null; });
    fillTable("top-threads", d.topThreads, function (t) { return [t.key, t.userId || "", int(t.totalRequests), usd(t.totalCost)]; });
    renderBudgets(d.budget, d.budgetScope);
    renderModels(d.latency, d.byModel);
    fillDimensionSelect(d.dimensionNames);
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
    var prev = Object.assign(previousRange(range), admin && user ? { userId: user } : {});
    var budget = user ? optional(api("budgets/status/" + encodeURIComponent(user)), [404, 501])
      : admin ? optional(api("budgets/status"), [404, 501]) : Promise.resolve(null);
    return Promise.all([
      api("token-usage/summary", scoped),
      api("token-usage/trend", scoped),
      api("token-usage/by-model", scoped),
      api("token-usage/by-agent", scoped),
      api("token-usage/top-threads", Object.assign({ limit: 10 }, scoped)),
      admin && !user ? api("token-usage/top-users", Object.assign({ limit: 10 }, range)) : Promise.resolve(null),
      budget,
      api("token-usage/summary", prev),
      api("token-usage/latency-by-model", scoped),
      api("token-usage/all", Object.assign({ limit: DIMENSION_SAMPLE }, scoped))
    ]).then(function (r) {
      if (loadId !== state.loads) return;
      state.data = {
        range: scoped, summary: r[0], trend: r[1], byModel: r[2], byAgent: r[3], topThreads: r[4], topUsers: r[5],
        budget: r[6], budgetScope: user ? "user " + user : "shared limits", previous: r[7], previousRange: prev,
        latency: r[8], dimensionNames: dimensionNames(r[9])
      };
      render(state.data);
      return Promise.all([loadDimension(scoped), drillStart(scoped, state.data.topUsers, user)]);
    }).then(function () {
      if (loadId !== state.loads) return;
      $("loading").hidden = true;
      setState(state.data.summary.totalRequests === 0 ? "empty" : "ready");
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
  $("dimension").addEventListener("change", function () { if (state.data) loadDimension(state.data.range); });
  Array.prototype.forEach.call(document.querySelectorAll("[data-days]"), function (b) {
    b.addEventListener("click", function () { setPreset(Number(b.getAttribute("data-days"))); if (state.who) load(); });
  });

  setPreset(30);
  takeKeyFromHash();
  start();
`;

export const DASHBOARD_SCRIPT = [
  '(function () {\n  "use strict";',
  CLIENT_CORE,
  CLIENT_BUDGETS,
  CLIENT_COMPARE,
  CLIENT_MODELS,
  CLIENT_DIMENSIONS,
  CLIENT_DRILLDOWN,
  CLIENT_CSV,
  CLIENT_MAIN,
  "})();\n",
].join("\n");
