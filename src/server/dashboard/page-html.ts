/**
 * The dashboard shell. Kept as a string module so it ships inside the bundle and
 * works the same from `src/` (tsx) and from `dist/` (the build copies no assets).
 * The page holds no data: it asks for an API key and reads the JSON API with it.
 */
export const DASHBOARD_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Token usage</title>
<style>
  :root { --fg: #1d2330; --muted: #6b7385; --line: #e3e6ec; --accent: #3461d1; --warn: #c77700; --bad: #c0392b; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: #f6f7fa; }
  header { display: flex; flex-wrap: wrap; gap: 12px; align-items: end; padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0 16px 0 0; align-self: center; }
  label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
  input, button { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
  button { cursor: pointer; }
  button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
  /* min(): a column never asks for more than the screen, so a phone does not scroll sideways. */
  main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(min(380px, 100%), 1fr)); }
  main > * { min-width: 0; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
  section h2 { font-size: 14px; margin: 0 0 8px; }
  .cards { grid-column: 1 / -1; display: flex; gap: 16px; flex-wrap: wrap; }
  .card { flex: 1 1 160px; }
  .card .value { font-size: 22px; font-weight: 600; }
  .card .hint { color: var(--muted); font-size: 12px; }
  .wide { grid-column: 1 / -1; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); }
  /* Long user and thread ids wrap inside their cell instead of pushing Cost off screen. */
  td:not(.num) { overflow-wrap: anywhere; }
  td.num { white-space: nowrap; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .chart-box { position: relative; height: 260px; }
  .gauge { margin: 6px 0; }
  .gauge .bar { height: 10px; background: var(--line); border-radius: 5px; overflow: hidden; }
  .gauge .fill { height: 100%; background: var(--accent); }
  .gauge .fill.warn { background: var(--warn); }
  .gauge .fill.bad { background: var(--bad); }
  .note { color: var(--muted); font-size: 12px; margin: 6px 0 0; }
  section h2 .note { font-weight: normal; }
  tr.link { cursor: pointer; }
  tr.link:hover, tr.link:focus { background: #eef2fb; }
  tr.link td:first-child { color: var(--accent); text-decoration: underline; }
  .crumb { border: none; background: none; padding: 0; color: var(--accent); text-decoration: underline; }
  #drill-path { margin-bottom: 6px; overflow-wrap: anywhere; }
  select { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 4px; background: #fff; max-width: 100%; }
  .notice { grid-column: 1 / -1; padding: 24px; text-align: center; color: var(--muted); }
  .error { color: var(--bad); }
  [hidden] { display: none !important; }
  #key-panel { max-width: 420px; margin: 60px auto; }
  #key-panel form { display: flex; gap: 8px; }
  #key-panel input { flex: 1; }
  @media (max-width: 600px) {
    header { padding: 10px 12px; gap: 8px; }
    main { padding: 12px; gap: 12px; }
    section { padding: 10px 12px; }
    th, td { padding: 4px 3px; }
  }
</style>
</head>
<body data-state="init">
<header>
  <h1>Token usage</h1>
  <label>From <input type="date" id="start" name="start"></label>
  <label>To <input type="date" id="end" name="end"></label>
  <div>
    <button type="button" data-days="7">7 days</button>
    <button type="button" data-days="30">30 days</button>
    <button type="button" data-days="90">90 days</button>
  </div>
  <label>User <input type="text" id="user-filter" placeholder="all users" maxlength="1024"></label>
  <button type="button" id="apply" class="primary">Apply</button>
  <button type="button" id="download-csv" title="Every call of the range and user filter (or of the thread shown in the drill-down)">Download CSV</button>
  <span id="who" style="margin-left:auto;color:var(--muted)"></span>
  <button type="button" id="sign-out">Change key</button>
</header>

<section id="key-panel" hidden>
  <h2>API key</h2>
  <p>Enter an admin key or a user key (create one with <code>token-usage keys create --user &lt;id&gt;</code>). It is kept in this browser's local storage.</p>
  <form id="key-form">
    <input type="password" id="key-input" autocomplete="off" placeholder="tuk_..." required>
    <button type="submit" class="primary">Open</button>
  </form>
  <p id="key-error" class="error" hidden></p>
</section>

<main id="content" hidden>
  <div id="loading" class="notice">Loading…</div>
  <div id="empty" class="notice" hidden>No usage in this range.</div>
  <div id="load-error" class="notice error" hidden></div>
  <div class="cards" id="cards">
    <section class="card"><div class="hint">Cost (USD)</div><div class="value" id="total-cost">–</div></section>
    <section class="card"><div class="hint">Requests</div><div class="value" id="total-requests">–</div></section>
    <section class="card"><div class="hint">Tokens</div><div class="value" id="total-tokens">–</div></section>
    <section class="card"><div class="hint">Unpriced requests</div><div class="value" id="unpriced">–</div></section>
  </div>
  <section id="budget-section" class="wide" hidden><h2>Budgets <span id="budget-scope" class="note"></span></h2><div id="budgets"></div></section>
  <section class="wide"><h2>This period against the previous one <span id="compare-range" class="note"></span></h2>
    <table id="compare"><thead><tr><th></th><th class="num">This period</th><th class="num">Previous</th><th class="num">Change</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide"><h2>Cost over time</h2><div class="chart-box"><canvas id="trend-chart"></canvas></div></section>
  <section><h2>Cost by model</h2><div class="chart-box"><canvas id="model-chart"></canvas></div></section>
  <section><h2>Cost by agent</h2><div class="chart-box"><canvas id="agent-chart"></canvas></div></section>
  <section id="models-section"><h2>Errors and latency by model</h2>
    <table id="models"><thead><tr><th>Model</th><th class="num">Calls</th><th class="num">Errors</th><th class="num">p50 ms</th><th class="num">p95 ms</th></tr></thead><tbody></tbody></table>
    <p id="latency-note" class="note"></p>
  </section>
  <section id="unpriced-section"><h2>Unpriced calls</h2>
    <p class="note">Calls to models without a known price count $0: add their prices to trust the totals.</p>
    <p id="unpriced-none" hidden>Every call in this range has a price.</p>
    <table id="unpriced-models"><thead><tr><th>Model</th><th>Provider</th><th class="num">Calls</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="dimension-section" class="wide"><h2>Cost by <select id="dimension" aria-label="Charge-back dimension"></select></h2>
    <p id="dimension-none" class="note" hidden>No charge-back dimensions (tenant, feature, ...) on the newest calls of this range.</p>
    <div id="dimension-view">
      <div class="chart-box"><canvas id="dimension-chart"></canvas></div>
      <table id="by-dimension"><thead><tr><th id="dimension-value-header">Value</th><th class="num">Calls</th><th class="num">Tokens</th><th class="num">Cost</th></tr></thead><tbody></tbody></table>
    </div>
  </section>
  <section id="top-users-section"><h2>Top users</h2>
    <table id="top-users"><thead><tr><th>User</th><th class="num">Requests</th><th class="num">Tokens</th><th class="num">Cost</th></tr></thead><tbody></tbody></table>
  </section>
  <section><h2>Top threads</h2>
    <table id="top-threads"><thead><tr><th>Thread</th><th>User</th><th class="num">Requests</th><th class="num">Cost</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="drill-section" class="wide"><h2>Drill-down</h2>
    <div id="drill-path"></div>
    <table id="drill"><thead><tr></tr></thead><tbody></tbody></table>
    <button type="button" id="drill-more" hidden>More calls</button>
  </section>
</main>
<script src="dashboard/chart.umd.js"></script>
<script src="dashboard/app.js"></script>
</body>
</html>
`;
