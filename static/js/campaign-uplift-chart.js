// Each measured campaign's uplift on the analytics page (Chart.js from static/vendor/chartjs):
// bars for the return rate of those who got the message and of the hold-out (left axis, %),
// the difference with its 95 % interval as a floating bar and a point (right axis, percentage
// points). The numbers come from the page (json_script "uplift-data"); the table beside the
// chart and the CSV download carry the same figures.
(function () {
  "use strict";
  var source = document.getElementById("uplift-data");
  var canvas = document.getElementById("chart-uplift");
  if (!source || !canvas || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var number = new Intl.NumberFormat(document.documentElement.lang || "en", { maximumFractionDigits: 1 });
  function numbers(list) { return list.map(function (v) { return v === null ? null : Number(v); }); }
  function pairs(list) { return list.map(function (p) { return p === null ? null : [Number(p[0]), Number(p[1])]; }); }
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;
  new Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        { type: "bar", label: data.treatedLabel, data: numbers(data.treated), yAxisID: "y", backgroundColor: "rgba(79, 70, 229, 0.6)" },
        { type: "bar", label: data.holdoutLabel, data: numbers(data.holdout), yAxisID: "y", backgroundColor: "rgba(148, 163, 184, 0.7)" },
        {
          type: "bar", label: data.intervalLabel, data: pairs(data.interval), yAxisID: "y1",
          backgroundColor: "rgba(217, 119, 6, 0.25)", borderColor: "#d97706", borderWidth: 1, barPercentage: 0.25
        },
        {
          type: "line", label: data.upliftLabel, data: numbers(data.uplift), yAxisID: "y1", showLine: false,
          pointStyle: "rectRot", pointRadius: 6, borderColor: "#b45309", backgroundColor: "#d97706"
        }
      ]
    },
    options: {
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom" },
        tooltip: {
          callbacks: {
            label: function (item) {
              var v = item.raw;
              if (Array.isArray(v)) return item.dataset.label + ": " + number.format(v[0]) + " … " + number.format(v[1]);
              return item.dataset.label + ": " + (v === null ? "—" : number.format(v));
            }
          }
        }
      },
      scales: {
        y: { beginAtZero: true, suggestedMax: 100, ticks: { callback: function (v) { return number.format(v) + " %"; } } },
        y1: { position: "right", grid: { drawOnChartArea: false }, ticks: { callback: function (v) { return number.format(v); } } }
      }
    }
  });
  document.documentElement.dataset.upliftChartReady = "1";
})();
