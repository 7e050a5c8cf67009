// Each measured campaign's uplift on the analytics page (Chart.js from static/vendor/chartjs).
// Left: the return rate of those who got the message beside the hold-out's (%). Right: their
// difference in percentage points with its 95 % interval (a floating bar from the low to the
// high end, the estimate as a point; zero is always on the axis, so an interval crossing it
// reads as "could be chance"). The numbers come from the page (json_script "uplift-data");
// the table under the charts and the CSV download carry the same figures.
(function () {
  "use strict";
  var source = document.getElementById("uplift-data");
  var rates = document.getElementById("chart-uplift-rates");
  var diff = document.getElementById("chart-uplift-diff");
  if (!source || !rates || !diff || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var number = new Intl.NumberFormat(document.documentElement.lang || "en", { maximumFractionDigits: 1 });
  function numbers(list) { return list.map(function (v) { return v === null ? null : Number(v); }); }
  function pairs(list) { return list.map(function (p) { return p === null ? null : [Number(p[0]), Number(p[1])]; }); }
  function label(item) {
    var v = item.raw;
    if (Array.isArray(v)) return item.dataset.label + ": " + number.format(v[0]) + " … " + number.format(v[1]);
    return item.dataset.label + ": " + (v === null ? "—" : number.format(v));
  }
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;
  var legend = { position: "bottom" };

  new Chart(rates, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: data.treatedLabel, data: numbers(data.treated), backgroundColor: "rgba(79, 70, 229, 0.6)" },
        { label: data.holdoutLabel, data: numbers(data.holdout), backgroundColor: "rgba(148, 163, 184, 0.75)" }
      ]
    },
    options: {
      animation: false,
      plugins: { legend: legend, tooltip: { callbacks: { label: label } } },
      scales: { y: { beginAtZero: true, max: 100, ticks: { callback: function (v) { return number.format(v) + " %"; } } } }
    }
  });

  var ends = pairs(data.interval).filter(Boolean);
  var reach = Math.max(5, Math.max.apply(null, ends.map(function (p) { return Math.max(Math.abs(p[0]), Math.abs(p[1])); }).concat([0])));
  new Chart(diff, {
    data: {
      labels: data.labels,
      datasets: [
        {
          type: "bar", label: data.intervalLabel, data: pairs(data.interval),
          backgroundColor: "rgba(217, 119, 6, 0.25)", borderColor: "#d97706", borderWidth: 1, barPercentage: 0.35
        },
        {
          type: "line", label: data.upliftLabel, data: numbers(data.uplift), showLine: false,
          pointStyle: "rectRot", pointRadius: 7, borderColor: "#92400e", backgroundColor: "#d97706"
        }
      ]
    },
    options: {
      animation: false,
      plugins: { legend: legend, tooltip: { callbacks: { label: label } } },
      scales: {
        y: {
          min: -Math.ceil(reach / 10) * 10, max: Math.ceil(reach / 10) * 10,
          grid: { color: function (ctx) { return ctx.tick && ctx.tick.value === 0 ? "#475569" : "rgba(0, 0, 0, 0.08)"; } },
          ticks: { callback: function (v) { return number.format(v); } }
        }
      }
    }
  });
  document.documentElement.dataset.upliftChartReady = "1";
})();
