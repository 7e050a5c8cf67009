/* The campaign form: only the fields that matter for the chosen kind (the form's data-kind-field names
   the select): the trigger for an automation, the send time for a broadcast. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-kind-field]");
  var kind = form && document.getElementById(form.dataset.kindField);
  if (!kind) return;
  function sync() {
    document.querySelectorAll("[data-kind-only]").forEach(function (el) {
      el.hidden = el.dataset.kindOnly !== kind.value;
    });
  }
  kind.addEventListener("change", sync);
  sync();
})();
