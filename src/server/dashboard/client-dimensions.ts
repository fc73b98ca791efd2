/**
 * Usage by a charge-back dimension (tenant, feature, ...). The store keeps no list of
 * dimension names, so the selector offers the names found on the newest
 * DIMENSION_SAMPLE calls of the range (one bounded /all page); the view itself is
 * the exact /by/:dimension aggregate.
 */
export const CLIENT_DIMENSIONS = String.raw`
  var DIMENSION_SAMPLE = 200;

  function dimensionNames(page) {
    var names = {};
    (page.records || []).forEach(function (r) {
      Object.keys(r.dimensions || {}).forEach(function (k) { names[k] = true; });
    });
    return Object.keys(names).sort();
  }

  function fillDimensionSelect(names) {
    var select = $("dimension");
    var previous = select.value;
    select.textContent = "";
    names.forEach(function (name) {
      var option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      select.appendChild(option);
    });
    select.disabled = names.length === 0;
    if (names.indexOf(previous) >= 0) select.value = previous;
    $("dimension-none").hidden = names.length > 0;
    $("dimension-view").hidden = names.length === 0;
  }

  function loadDimension(scoped) {
    var name = $("dimension").value;
    if (!name) { state.data.byDimension = null; return Promise.resolve(); }
    return api("token-usage/by/" + encodeURIComponent(name), scoped).then(function (rows) {
      state.data.byDimension = { name: name, rows: rows };
      renderDimension(state.data.byDimension);
    });
  }

  function renderDimension(view) {
    var label = function (r) { return r.key === null ? "(none)" : r.key; };
    chart("dimension-chart", "bar", view.rows.map(label), view.rows.map(function (r) { return r.totalCost; }), "Cost (USD)");
    $("dimension-value-header").textContent = view.name;
    fillTable("by-dimension", view.rows, function (r) { return [label(r), int(r.totalRequests), int(r.totalTokens), usd(r.totalCost)]; });
  }
`;
