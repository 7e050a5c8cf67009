/* A campaign's page: while messages remain to send or the send is still fanning out (data-remaining on
   the progress box), poll its progress URL and update the figures (data-key); once the send has
   finished, reload the page for its new status and report (data-status: the status it was drawn with). */
(function () {
  "use strict";
  var box = document.querySelector('[data-testid="progress"]');
  if (!box || box.dataset.remaining !== "true") return;
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
      box.querySelectorAll("[data-key]").forEach(function (el) { el.textContent = data[el.dataset.key]; });
      if (data.remaining > 0 || data.status === "sending") setTimeout(poll, 2000);
      // The send has finished: load the page once more for its status and its report.
      else if (data.status !== box.dataset.status) window.location.reload();
    }).catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
