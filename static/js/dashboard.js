/* Dashboard: the "messages per day" stacked bar chart (data from json_script#week-chart-data). */
(function () {
  "use strict";
  const dataEl = document.getElementById("week-chart-data");
  const canvas = document.getElementById("week-chart");
  if (!dataEl || !canvas || !window.Chart) return;
  const data = JSON.parse(dataEl.textContent);
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#64748b";
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: data.datasets.map((d) => ({
        label: d.label,
        data: d.data,
        backgroundColor: d.color,
        borderRadius: 4,
        borderSkipped: false,
        maxBarThickness: 44,
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: { duration: 300 },
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            footer: (items) => "Total: " + items.reduce((sum, i) => sum + i.parsed.y, 0).toLocaleString(),
          },
        },
      },
      scales: {
        x: { stacked: true, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#f1f5f9" }, border: { display: false } },
      },
    },
  });
})();
