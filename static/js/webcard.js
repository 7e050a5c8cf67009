/* The customer's web card (templates/enrollment/card.html). No inline script: the page's
   Content-Security-Policy allows scripts from our static files only. */
(function () {
  "use strict";
  /* Share the invitation: the phone's share sheet (Web Share API) where there is
     one, else copy the link (Clipboard API, else the selected text field). */
  var share = document.getElementById("referral-share");
  if (share) {
    var link = document.getElementById("referral-link");
    var status = document.getElementById("referral-status");
    var say = function (message) { status.textContent = message; };
    var copyByHand = function () {
      link.focus();
      link.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      say(ok ? share.dataset.copied : share.dataset.copyFailed);
    };
    var copy = function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(link.value).then(function () { say(share.dataset.copied); }, copyByHand);
      } else {
        copyByHand();
      }
    };
    share.addEventListener("click", function () {
      var data = { title: share.dataset.title, text: share.dataset.text, url: link.value };
      if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
        navigator.share(data).catch(function (err) {
          if (!err || err.name !== "AbortError") { copy(); }
        });
      } else {
        copy();
      }
    });
    link.addEventListener("focus", function () { link.select(); });
  }
})();
/* The card is read live: coming back to it after a purchase (another app, the
   lock screen), show the new balance without asking for a refresh. */
(function () {
  "use strict";
  var hiddenAt = 0;
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { hiddenAt = Date.now(); return; }
    if (hiddenAt && Date.now() - hiddenAt > 15000) location.reload();
  });
})();
