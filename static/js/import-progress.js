/* A customer import's page: until the import is done or failed (data-status), poll its progress URL,
   update the figures (data-field) and reload the page when it ends. */
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || box.dataset.status === "done" || box.dataset.status === "failed") return;
  function poll() {
    fetch(box.dataset.progressUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
      box.querySelector("progress").value = data.percent;
      ["percent", "processed", "created", "existing", "errors", "status_label"].forEach(function (key) {
        var el = box.querySelector('[data-field="' + key + '"]');
        if (el) { el.textContent = data[key]; }
      });
      if (data.status === "done" || data.status === "failed") { window.location.reload(); } else { setTimeout(poll, 1500); }
    }).catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
