// /reports: draws a chart (Chart.js) above each table marked data-chart, from the table's own cells, so the
// chart and the table always show the same numbers; the print button; charts redrawn for the printed page.
(function () {
  "use strict";
  var PALETTE = ["#0b5cad", "#8b1a1a", "#1a7f37", "#d97706", "#6f42c1", "#0e7490", "#b42318", "#59636e",
                 "#c2410c", "#4d7c0f", "#9d174d", "#1e3a8a"];
  var charts = [];

  function seriesOf(table) {
    // each header cell with data-series is one series; its column index is where its values are
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var series = [];
    heads.forEach(function (th, index) {
      if (th.hasAttribute("data-series")) {
        series.push({label: th.getAttribute("data-series"), index: index, color: th.getAttribute("data-color")});
      }
    });
    var labels = [];
    var values = series.map(function () { return []; });
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      labels.push(row.cells[0].textContent.trim());
      series.forEach(function (s, i) {
        var cell = row.cells[s.index];
        values[i].push(cell ? Number(cell.getAttribute("data-value") || 0) : 0);
      });
    });
    return {labels: labels, series: series, values: values};
  }

  function config(kind, data) {
    var pie = kind === "doughnut";
    var datasets = data.series.map(function (s, i) {
      var colors = pie ? data.labels.map(function (_, j) { return PALETTE[j % PALETTE.length]; })
                       : (s.color || PALETTE[i % PALETTE.length]);
      return {label: s.label, data: data.values[i], backgroundColor: colors, borderColor: pie ? "#fff" : colors,
              borderWidth: pie ? 2 : 0, maxBarThickness: 56};
    });
    var horizontal = kind === "bar-h" || kind === "stacked-h";
    var stacked = kind === "stacked-h";
    var options = {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: {legend: {display: pie || data.series.length > 1, position: pie ? "right" : "top"}}
    };
    if (!pie) {
      options.indexAxis = horizontal ? "y" : "x";
      var valueAxis = {beginAtZero: true, stacked: stacked, ticks: {precision: 0}};
      var labelAxis = {stacked: stacked, ticks: {autoSkip: false}};
      options.scales = horizontal ? {x: valueAxis, y: labelAxis} : {x: labelAxis, y: valueAxis};
    }
    return {type: pie ? "doughnut" : "bar", data: {labels: data.labels, datasets: datasets}, options: options};
  }

  function draw(table) {
    var data = seriesOf(table);
    var total = data.values.reduce(function (sum, list) {
      return sum + list.reduce(function (a, b) { return a + b; }, 0);
    }, 0);
    if (!data.labels.length || total === 0) { return; }
    var kind = table.getAttribute("data-chart");
    var box = document.createElement("div");
    box.className = "chart-box chart-" + kind;
    var rows = data.labels.length;
    if (kind === "bar-h" || kind === "stacked-h") { box.style.height = Math.max(160, 34 * rows + 60) + "px"; }
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    var caption = table.caption ? table.caption.textContent.trim() : "";
    canvas.setAttribute("aria-label", caption + "（" + (table.getAttribute("data-chart-note") || "") + "）");
    box.appendChild(canvas);
    table.parentNode.insertBefore(box, table);
    charts.push(new window.Chart(canvas, config(kind, data)));
    table.setAttribute("data-charted", "true");
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.Chart) {
      window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      window.Chart.defaults.color = "#1f2328";
      Array.prototype.forEach.call(document.querySelectorAll("table[data-chart]"), draw);
    }
    document.body.setAttribute("data-charts", String(charts.length));
    var button = document.getElementById("print-report");
    if (button) {  // shown only where a script can print (the browser's own print works everywhere)
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    }
  });

  // Chart.js does not follow the print layout by itself: draw each chart at the printed width (A4, 18 cm), then
  // back at the screen's when printing is over
  var PRINT_WIDTH = 680;
  function forPrint() {
    charts.forEach(function (c) {
      var box = c.canvas.parentNode;
      c.resize(PRINT_WIDTH, Math.min(box.clientHeight || 240, 420));
    });
  }
  function forScreen() { charts.forEach(function (c) { c.resize(); }); }
  window.addEventListener("beforeprint", forPrint);
  window.addEventListener("afterprint", forScreen);
}());
