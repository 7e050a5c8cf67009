/* The program editor (templates/loyalty/program_form.html): show only the sections that matter
   for the chosen mechanic. */
(function () {
  "use strict";
  var form = document.getElementById("program-form");
  if (!form) return;
  var relevant = {points: ["1", "3", "4", "5"], cashback: ["1", "3", "4", "5"], stamps: ["2", "5"], discount: ["5"]};
  var onlyFor = {points_per_unit: "points", cashback_percent: "cashback"};
  function update() {
    var checked = form.querySelector("input[name=mechanic]:checked");
    if (!checked) return;
    form.querySelectorAll("section[data-section]").forEach(function (section) {
      section.hidden = relevant[checked.value].indexOf(section.dataset.section) === -1 && !section.querySelector(".has-error");
    });
    Object.keys(onlyFor).forEach(function (name) {
      var field = form.querySelector("[name=" + name + "]").closest(".field");
      field.hidden = onlyFor[name] !== checked.value && !field.classList.contains("has-error");
    });
  }
  form.addEventListener("change", function (event) { if (event.target.name === "mechanic") update(); });
  update();
})();
