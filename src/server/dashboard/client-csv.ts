/**
 * CSV of the current view: every record of the range and user filter (narrowed to
 * the thread when the drill-down shows one), streamed by /export.csv. The key goes
 * in a header, so the file is fetched and handed to the browser as a blob download.
 */
export const CLIENT_CSV = String.raw`
  function csvParams() {
    var range = state.data ? state.data.range : {};
    var params = { start: range.start, end: range.end, userId: range.userId };
    if (drill.level === "calls") { params.userId = drill.userId; params.threadId = drill.threadId; }
    return params;
  }

  function downloadCsv() {
    var params = csvParams();
    var button = $("download-csv");
    button.disabled = true;
    return request("token-usage/export.csv", params).then(function (res) {
      if (!res.ok) throw new ApiError(res.status, {});
      return res.blob();
    }).then(function (blob) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "token-usage-" + params.start.slice(0, 10) + "-to-" + params.end.slice(0, 10) +
        (params.threadId ? "-thread" : params.userId ? "-" + params.userId.replace(/[^A-Za-z0-9_.-]/g, "_") : "") + ".csv";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 60000);
    }).catch(function (e) {
      $("load-error").hidden = false;
      $("load-error").textContent = "CSV download failed (" + (e && e.status || e) + ")";
    }).then(function () { button.disabled = false; });
  }

  $("download-csv").addEventListener("click", downloadCsv);
`;
