// The analytics page's charts (Chart.js, served from static/vendor/chartjs).
// The numbers come from the page itself (json_script); every chart also has
// them in a table and a CSV download, so the chart is never the only way to read them.
(function () {
  "use strict";
  // The cohort table's shading: each cell's share (data-share) as the --share its CSS mixes by. Set through
  // the CSSOM: the Content-Security-Policy allows no style="" attribute in the page.
  document.querySelectorAll(".cohort-table td.heat[data-share]").forEach(function (cell) {
    cell.style.setProperty("--share", cell.dataset.share);
  });
  var source = document.getElementById("analytics-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var number = new Intl.NumberFormat(document.documentElement.lang || "en");
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;

  var revenue = document.getElementById("chart-revenue");
  if (revenue) {
    new Chart(revenue, {
      data: {
        labels: data.revenue.labels,
        datasets: [
          {
            type: "bar", label: data.revenue.revenueLabel, data: data.revenue.revenue.map(Number),
            yAxisID: "y", backgroundColor: "rgba(79, 70, 229, 0.55)"
          },
          {
            type: "line", label: data.revenue.visitsLabel, data: data.revenue.visits,
            yAxisID: "y1", borderColor: "#d97706", backgroundColor: "#d97706", tension: 0.25
          }
        ]
      },
      options: {
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { beginAtZero: true, ticks: { callback: function (v) { return number.format(v); } } },
          y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } }
        }
      }
    });
  }

  var tiers = document.getElementById("chart-tiers");
  if (tiers) {
    new Chart(tiers, {
      type: "doughnut",
      data: {
        labels: data.tiers.labels,
        datasets: [{ data: data.tiers.cards, backgroundColor: ["#b45309", "#94a3b8", "#eab308", "#4f46e5", "#10b981", "#ef4444"] }]
      },
      options: { animation: false, plugins: { legend: { position: "bottom" } } }
    });
  }
  document.documentElement.dataset.chartsReady = "1";
})();
