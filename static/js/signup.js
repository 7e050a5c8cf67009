/* Sign-up: suggest the chosen country's currency and time zone until the person picks them themselves.
   The maps come from json_script elements (#country-currencies, #country-time-zones). */
(function () {
  "use strict";
  var country = document.getElementById("id_country");
  if (!country) return;
  var currencies = JSON.parse(document.getElementById("country-currencies").textContent);
  var zones = JSON.parse(document.getElementById("country-time-zones").textContent);
  function follow(select, map) {
    var chosen = false;
    select.addEventListener("change", function () { chosen = true; });
    country.addEventListener("change", function () {
      var suggested = map[country.value];
      if (!chosen && suggested && select.querySelector('option[value="' + suggested + '"]')) {
        select.value = suggested;
      }
    });
  }
  follow(document.getElementById("id_currency"), currencies);
  follow(document.getElementById("id_time_zone"), zones);
})();
