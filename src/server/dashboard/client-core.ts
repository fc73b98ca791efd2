/**
 * Shared pieces of the dashboard's browser script: state, formatting, the API call,
 * charts and tables. The view modules (client-*.ts) are concatenated after it inside
 * one function scope (see client-script.ts), so they share these names.
 */
export const CLIENT_CORE = String.raw`
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
  // Dollars for people: cents with thousands separators; amounts under a cent keep
  // four decimals so a small but real spend does not read as $0.00.
  function money(n) {
    n = Number(n || 0);
    if (n !== 0 && Math.abs(n) < 0.01) return "$" + n.toFixed(4);
    return "$" + n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  // Milliseconds without the unit (the column header says "ms"), to keep phone columns narrow.
  function ms(n) { return n === null || n === undefined ? "–" : int(Math.round(n)); }
  function percent(fraction) {
    var p = fraction * 100;
    return (p === Math.round(p) ? String(p) : p.toFixed(1)) + "%";
  }
  function isoDate(d) {
    var local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
    return local.toISOString().slice(0, 10);
  }

  function ApiError(status, body) { this.status = status; this.body = body; }

  function query(params) {
    var qs = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) {
      if (params[k] !== undefined && params[k] !== null && params[k] !== "") qs.set(k, params[k]);
    });
    var text = qs.toString();
    return text ? "?" + text : "";
  }

  function request(path, params) {
    return fetch(path + query(params), { headers: { "x-api-key": state.key } });
  }

  function api(path, params) {
    return request(path, params).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok) throw new ApiError(res.status, body);
        return body;
      });
    });
  }

  function optional(promise, statuses) {
    return promise.catch(function (e) {
      if (e instanceof ApiError && statuses.indexOf(e.status) >= 0) return null;
      throw e;
    });
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
        scales: type === "bar" ? { y: { ticks: { autoSkip: false, callback: function (value) { return wrapLabel(this.getLabelForValue(value), 18); } } } } : undefined,
        plugins: { legend: { display: type === "doughnut" } }
      }
    });
    return state.charts[id];
  }

  // Writes text with a line-break opportunity after each hyphen, so a narrow column
  // breaks "claude-3-5-haiku-20241022" between its parts rather than inside one.
  function breakable(el, text) {
    var parts = String(text).split("-");
    parts.forEach(function (part, i) {
      if (i > 0) el.appendChild(document.createElement("wbr"));
      el.appendChild(document.createTextNode(i < parts.length - 1 ? part + "-" : part));
    });
  }

  // Fills a table's body. Cells are text (numbers right-aligned); onClick makes each
  // row (those canClick accepts) a keyboard-reachable link (drill-down).
  function fillTable(id, rows, cells, onClick, canClick) {
    var body = $(id).querySelector("tbody");
    body.textContent = "";
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      cells(row).forEach(function (c, i) {
        var td = document.createElement("td");
        if (i > 0 && /^([$<0-9,.+-]+%?( \([0-9.]+%\))?|new|–)$/.test(c)) { td.className = "num"; td.textContent = c; }
        else breakable(td, c);
        tr.appendChild(td);
      });
      if (onClick && (!canClick || canClick(row))) {
        tr.className = "link";
        tr.tabIndex = 0;
        tr.addEventListener("click", function () { onClick(row); });
        tr.addEventListener("keydown", function (ev) { if (ev.key === "Enter") onClick(row); });
      }
      body.appendChild(tr);
    });
  }
`;
