/**
 * Drill-down: users -> a user's threads -> a thread's calls, the calls read a page at
 * a time with /all's cursor ("More" appends the next page). A user key starts at its
 * own threads; so does an admin with a user filter.
 */
export const CLIENT_DRILLDOWN = String.raw`
  // pageSize is exposed (window.tokenUsageDashboard.drill) so a test can page a short thread.
  var drill = { level: null, userId: null, threadId: null, cursor: null, range: null, calls: [], pageSize: 20 };
  state.drill = drill;

  function setHead(names) {
    var row = $("drill").querySelector("thead tr");
    row.textContent = "";
    names.forEach(function (name, i) {
      var th = document.createElement("th");
      th.textContent = name;
      if (i > 0) th.className = "num";
      row.appendChild(th);
    });
  }

  function crumb(text, onClick) {
    var path = $("drill-path");
    if (path.childNodes.length) path.appendChild(document.createTextNode(" › "));
    var el = document.createElement(onClick ? "button" : "span");
    el.textContent = text;
    if (onClick) { el.type = "button"; el.className = "crumb"; el.addEventListener("click", onClick); }
    path.appendChild(el);
  }

  function setPath(level) {
    $("drill-path").textContent = "";
    var admin = state.who.role === "admin" && !$("user-filter").value.trim();
    if (admin) crumb("All users", level === "users" ? null : function () { drillUsers(); });
    if (level !== "users") crumb(drill.userId, level === "threads" ? null : function () { drillThreads(drill.userId); });
    if (level === "calls") crumb(drill.threadId, null);
    $("drill").setAttribute("data-level", level);
    drill.level = level;
    $("drill-more").hidden = true;
  }

  function drillStart(range, topUsers, userId) {
    drill.range = range;
    if (userId) return drillThreads(userId);
    return drillUsers(topUsers);
  }

  function drillUsers(rows) {
    rows = rows || (state.data && state.data.topUsers) || [];
    setPath("users");
    setHead(["User", "Calls", "Tokens", "Cost"]);
    fillTable("drill", rows, function (u) { return [u.key, int(u.totalRequests), int(u.totalTokens), usd(u.totalCost)]; },
      function (u) { drillThreads(u.key); }, function (u) { return u.key !== null; });
    return Promise.resolve();
  }

  function drillThreads(userId) {
    drill.userId = userId;
    return api("token-usage/top-threads", Object.assign({ limit: 50, userId: userId }, drill.range)).then(function (rows) {
      setPath("threads");
      setHead(["Thread", "Calls", "Tokens", "Cost"]);
      fillTable("drill", rows, function (t) { return [t.key === null ? "(no thread)" : t.key, int(t.totalRequests), int(t.totalTokens), usd(t.totalCost)]; },
        function (t) { drillCalls(t.key); }, function (t) { return t.key !== null; });
    });
  }

  function callCells(r) {
    return [r.timestamp.slice(0, 19).replace("T", " ") + " " + r.model + (r.error ? " (error)" : ""), int(r.totalTokens), usd(r.totalCost), ms(r.latencyMs)];
  }

  function drillCalls(threadId, more) {
    if (!more) { drill.threadId = threadId; drill.cursor = null; drill.calls = []; }
    var params = Object.assign({ limit: drill.pageSize, userId: drill.userId, threadId: drill.threadId, cursor: drill.cursor }, drill.range);
    return api("token-usage/all", params).then(function (page) {
      drill.calls = drill.calls.concat(page.records);
      drill.cursor = page.cursor || null;
      setPath("calls");
      setHead(["Call", "Tokens", "Cost", "Latency ms"]);
      fillTable("drill", drill.calls, callCells);
      $("drill-more").hidden = !drill.cursor;
    });
  }

  $("drill-more").addEventListener("click", function () { drillCalls(drill.threadId, true); });
`;
