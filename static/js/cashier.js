/* The till page: find the customer, quote, confirm, undo.
 *
 * Talks to the JSON views under /dashboard/till/ with the session cookie and
 * the CSRF token. Every write carries an Idempotency-Key made when its form is
 * shown and kept until the write succeeds, so a double tap or a retry after a
 * dropped connection writes once. Amounts and points are formatted by the
 * server (merchant's currency, language, plural rules); this file only places
 * them. No libraries.
 */
(function () {
  "use strict";

  var S = JSON.parse(document.getElementById("till-strings").textContent);
  var C = JSON.parse(document.getElementById("till-config").textContent);
  var csrfInput = document.querySelector("input[name=csrfmiddlewaretoken]");
  var csrf = csrfInput ? csrfInput.value : "";

  function $(id) { return document.getElementById(id); }
  function show(el, visible) { if (el) { el.hidden = !visible; } }
  function text(id, value) { var el = $(id); if (el) { el.textContent = value; } }

  // crypto.randomUUID needs a secure context; a till on http://192.168.… has only getRandomValues.
  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function call(method, url, body, key) {
    var headers = { "Accept": "application/json", "X-CSRFToken": csrf };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    if (key) { headers["Idempotency-Key"] = key; }
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (!response.ok) { throw { status: response.status, data: data }; }
        return data;
      });
    }, function () { throw { network: true }; });
  }

  function errorMessage(err) {
    if (err && err.network) { return S.network; }
    if (err && err.status === 401) { window.location.reload(); }
    if (err && err.data && err.data.error) { return err.data.error.message; }
    return S.serverError;
  }
  function errorCode(err) { return err && err.data && err.data.error ? err.data.error.code : ""; }

  var alertBox = $("till-alert");
  function alertShow(message, kind) {
    alertBox.className = "alert " + (kind || "error");
    alertBox.textContent = message;
    alertBox.hidden = false;
  }
  function alertHide() { alertBox.hidden = true; }

  // --- state -----------------------------------------------------------------------------
  var card = null;          // the card payload from the server
  var quote = null;         // the latest quote matching the form
  var quoteSeq = 0;
  var purchaseKey = null;   // made when the purchase form is shown
  var lastSent = null;      // {key, body} of the last purchase attempt
  var result = null;        // the last purchase, for undo
  var undoKey = null;
  var undoTimer = null;

  // --- 1. find ---------------------------------------------------------------------------
  var findForm = $("find-form");
  var findInput = $("find-q");

  function lookup(query) {
    alertHide();
    show($("not-found"), false);
    $("find-button").disabled = true;
    return call("GET", C.urls.lookup + "?q=" + encodeURIComponent(query)).then(function (data) {
      showCustomer(data.card);
    }, function (err) {
      alertShow(errorMessage(err));
      // Not found: offer to issue a card right here.
      show($("not-found"), errorCode(err) === "card_not_found");
      findInput.select();
    }).then(function () { $("find-button").disabled = false; });
  }

  // --- 1b. a new customer -------------------------------------------------------------------
  var enrolKey = null;

  function showEnrol() {
    alertHide();
    var query = findInput.value.trim();
    $("enrol-form").reset();
    // A phone typed in the search goes into the form; a card number does not.
    $("enrol-phone").value = /^[+\d\s()\-]{6,}$/.test(query) && query.replace(/\D/g, "").length <= 15 ? query : "";
    enrolKey = newKey();
    show($("find"), false);
    show($("enrol"), true);
    ($("enrol-phone").value ? $("enrol-name") : $("enrol-phone")).focus();
  }

  $("enrol-start").addEventListener("click", showEnrol);
  $("enrol-cancel").addEventListener("click", function () { show($("enrol"), false); toFind(); });

  $("enrol-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var button = $("enrol-submit");
    var label = button.textContent;
    button.disabled = true;
    button.textContent = S.working;
    var body = {
      phone: $("enrol-phone").value.trim(),
      name: $("enrol-name").value.trim(),
      consent: $("enrol-consent").checked,
      marketing_consent: $("enrol-marketing").checked,
      consent_version: C.consentVersion
    };
    call("POST", C.urls.enrol, body, enrolKey).then(function (data) {
      show($("enrol"), false);
      showCustomer(data.card);
      alertShow(S.enrolled, "success");
    }, function (err) {
      if (errorCode(err) === "already_enrolled" && err.data && err.data.card) {
        show($("enrol"), false);
        showCustomer(err.data.card);
        alertShow(S.alreadyEnrolled, "info");
        return;
      }
      alertShow(errorMessage(err), errorCode(err) === "invalid" ? "warning" : "error");
      if (errorCode(err) === "idempotency_key_reused") { enrolKey = newKey(); }
    }).then(function () { button.disabled = false; button.textContent = label; });
  });

  findForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var query = findInput.value.trim();
    if (query) { lookup(query); } else { findInput.focus(); }
  });

  // --- 2. the customer ---------------------------------------------------------------------
  function renderCard(c) {
    card = c;
    text("customer-name", c.customer.name || c.customer.phone);
    text("customer-phone", c.display.phone);
    text("card-number", c.display.number);
    var tier = $("tier");
    if (tier) { tier.textContent = c.tier || ""; show(tier, !!c.tier); }
    text("balance", c.display.spendable);
    text("pending", c.display.pending);
    show($("pending-row"), c.pending_points > 0);
    // "x / N": N is the free visit (every N-th visit is free).
    text("stamps", C.stampsPerReward ? c.stamps + " / " + C.stampsPerReward : String(c.stamps));
    text("rewards", String(c.rewards_available));
    show($("rewards-field"), c.rewards_available > 0);
    show($("free-visit"), C.usesStamps && c.rewards_available > 0 && c.status !== "blocked");
    show($("blocked-note"), c.status === "blocked");
  }

  function showCustomer(c) {
    renderCard(c);
    show($("find"), false);
    if ($("refunds")) { show($("refunds"), false); }
    show($("result"), false);
    show($("customer"), true);
    resetPurchaseForm();
    show($("purchase"), c.status !== "blocked");
    if (c.status !== "blocked") { $("bill").focus(); }
  }

  function resetPurchaseForm() {
    $("purchase-form").reset();
    // With a reward on the card this visit is the free one: the reward is ticked (the cashier may untick it).
    if ($("use-reward")) { $("use-reward").checked = !!(card && card.rewards_available > 0); }
    if ($("redeem")) {
      $("redeem").value = "0";
      $("redeem").removeAttribute("max");
      $("redeem-max").disabled = false;
    }
    text("redeem-help", "");
    show($("big-bill"), false);
    quote = null;
    show($("summary"), false);
    $("confirm").disabled = true;
    purchaseKey = newKey();
    lastSent = null;
  }

  function toFind() {
    card = null;
    alertHide();
    stopUndoTimer();
    show($("not-found"), false);
    show($("enrol"), false);
    if ($("refunds")) { show($("refunds"), false); }
    show($("customer"), false);
    show($("purchase"), false);
    show($("result"), false);
    show($("find"), true);
    findInput.value = "";
    findInput.focus();
  }
  $("change-customer").addEventListener("click", toFind);
  $("next-customer").addEventListener("click", toFind);

  // --- 3. quote and confirm -------------------------------------------------------------------
  function formBody() {
    var body = {
      card_number: card.number,
      bill_amount: $("bill").value.trim().replace(",", ".").replace(/\s/g, ""),
      redeem_points: $("redeem") ? parseInt($("redeem").value || "0", 10) || 0 : 0
    };
    if ($("use-reward") && $("use-reward").checked) { body.redeem_rewards = 1; }
    var receipt = $("receipt").value.trim();
    if (receipt) { body.receipt_id = receipt; }
    if (quote && quote.needs_confirmation && $("big-bill-ok").checked) { body.confirm_large_bill = true; }
    return body;
  }

  var quoteTimer = null;
  function requestQuote() {
    clearTimeout(quoteTimer);
    $("confirm").disabled = true;
    quoteTimer = setTimeout(doQuote, 250);
  }

  function doQuote() {
    var body = formBody();
    if (!body.bill_amount) { show($("summary"), false); return; }
    var seq = ++quoteSeq;
    var quoteBody = {
      card_number: body.card_number, bill_amount: body.bill_amount, redeem_points: body.redeem_points
    };
    // A free item paid with a reward may have a bill of 0.00: the server needs to know.
    if (body.redeem_rewards) { quoteBody.redeem_rewards = body.redeem_rewards; }
    call("POST", C.urls.quote, quoteBody).then(function (data) {
      if (seq !== quoteSeq) { return; }
      alertHide();
      quote = data.quote;
      var d = quote.display;
      text("sum-discount", d.discount);
      var hasDiscount = Number(quote.discount_amount) > 0;
      show($("sum-discount-label"), hasDiscount);
      show($("sum-discount"), hasDiscount);
      text("sum-points", d.points_amount);
      text("sum-pay", d.to_pay);
      text("sum-earn", d.to_earn);
      // A campaign's offer for this purchase (a discount or extra points): the cashier says it aloud.
      text("sum-offer", d.offer || "");
      show($("sum-offer"), !!d.offer);
      show($("summary"), true);
      if ($("redeem")) {
        $("redeem").max = String(quote.max_redeem_points);
        $("redeem-help").textContent = quote.max_redeem_points > 0
          ? S.maxRedeem.replace("%(points)s", d.max_redeem).replace("%(value)s", d.max_redeem_value)
          : S.noRedeem;
        $("redeem-max").disabled = quote.max_redeem_points === 0;
      }
      // A bill above the merchant's usual maximum (an extra zero?) must be confirmed.
      if (quote.needs_confirmation) {
        text("big-bill-text", S.bigBill.replace("%(max)s", d.max_bill).replace("%(bill)s", d.bill));
        $("big-bill-ok").checked = false;
        show($("big-bill"), true);
        $("confirm").disabled = true;
      } else {
        show($("big-bill"), false);
        $("confirm").disabled = false;
      }
    }, function (err) {
      if (seq !== quoteSeq) { return; }
      quote = null;
      show($("summary"), false);
      alertShow(errorMessage(err), errorCode(err) === "invalid" ? "warning" : "error");
    });
  }

  $("bill").addEventListener("input", requestQuote);
  if ($("redeem")) {
    $("redeem").addEventListener("input", requestQuote);
    $("redeem-max").addEventListener("click", function () {
      var bill = formBody().bill_amount;
      if (!bill) { $("bill").focus(); return; }
      // Ask for the maximum with redeem 0 first if we have no quote for this bill.
      var setMax = function (q) { $("redeem").value = String(q.max_redeem_points); requestQuote(); };
      if (quote && quote.bill_amount === Number(bill).toFixed(C.moneyPlaces)) { setMax(quote); return; }
      call("POST", C.urls.quote, { card_number: card.number, bill_amount: bill, redeem_points: 0 })
        .then(function (data) { setMax(data.quote); }, function (err) { alertShow(errorMessage(err)); });
    });
  }
  if ($("use-reward")) { $("use-reward").addEventListener("change", requestQuote); }
  $("big-bill-ok").addEventListener("change", function () {
    $("confirm").disabled = !(quote && $("big-bill-ok").checked);
  });

  function confirmPurchase(body, key) {
    var button = $("confirm");
    var label = button.textContent;
    button.disabled = true;
    button.textContent = S.working;
    var previous = lastSent;
    lastSent = { key: key, body: body };
    return call("POST", C.urls.purchase, body, key).then(function (data) {
      button.textContent = label;
      showResult(data.purchase);
    }, function (err) {
      button.textContent = label;
      if (errorCode(err) === "idempotency_key_reused" && previous && previous.key === key) {
        // An earlier attempt with this key went through but its answer was lost (the
        // connection dropped): ask again with that attempt's body to get its result.
        return confirmPurchase(previous.body, key).then(function () {
          if (!$("result").hidden) { alertShow(S.earlierAttempt, "info"); }
        });
      }
      alertShow(errorMessage(err));
      button.disabled = false;
    });
  }

  $("purchase-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!$("confirm").disabled) { confirmPurchase(formBody(), purchaseKey); }
  });

  // --- 4. result and undo ---------------------------------------------------------------------
  function stopUndoTimer() { if (undoTimer) { clearInterval(undoTimer); undoTimer = null; } }

  function startUndoTimer(untilIso, untilText, button, note) {
    stopUndoTimer();
    var until = new Date(untilIso).getTime();
    function tick() {
      var left = Math.max(0, Math.round((until - Date.now()) / 1000));
      if (left <= 0) {
        note.textContent = S.undoExpired;
        button.disabled = true;
        stopUndoTimer();
        return;
      }
      var mm = Math.floor(left / 60), ss = left % 60;
      note.textContent = S.undoIn.replace("%(time)s", untilText) + " (" + mm + ":" + (ss < 10 ? "0" : "") + ss + ")";
    }
    button.disabled = false;
    tick();
    undoTimer = setInterval(tick, 1000);
  }

  function showResult(p) {
    result = p;
    alertHide();
    text("result-paid", p.display.paid);
    text("result-earned", "+" + p.display.earned);
    text("result-redeemed", "−" + p.display.redeemed);
    show($("result-redeemed-label"), p.points_redeemed > 0);
    show($("result-redeemed"), p.points_redeemed > 0);
    show($("result-free"), p.rewards_redeemed > 0);
    text("result-balance", p.display.balance);
    text("result-offer", p.display.offer || "");
    show($("result-offer"), !!p.display.offer);
    show($("purchase"), false);
    show($("result"), true);
    show($("last-undo"), false);
    // The customer panel shows the new balance too.
    if (card) {
      card.balance = p.card.balance;
      card.display.spendable = p.display.balance;
      card.stamps = p.card.stamps;
      card.rewards_available = p.card.rewards_available;
      card.tier = p.card.tier;
      renderCard(card);
      text("balance", p.display.balance);
    }
    undoKey = newKey();
    purchaseKey = newKey();
    lastSent = null;
    startUndoTimer(p.undo_until, p.display.undo_until, $("undo"), $("undo-note"));
    $("next-customer").focus();
  }

  function undo(purchase, button) {
    button.disabled = true;
    return call("POST", C.urls.undo, { purchase_id: purchase.id }, undoKey).then(function (data) {
      stopUndoTimer();
      show($("last-undo"), false);
      return call("GET", C.urls.lookup + "?q=" + encodeURIComponent(data.card_number)).then(function (found) {
        showCustomer(found.card);
        alertShow(S.undone.replace("%(balance)s", data.refund.display.balance), "success");
      });
    }, function (err) {
      alertShow(errorMessage(err));
      button.disabled = errorCode(err) === "undo_expired" || errorCode(err) === "undo_not_allowed";
    });
  }

  $("undo").addEventListener("click", function () { if (result) { undo(result, $("undo")); } });

  // After a reload: the last purchase of this session can still be undone.
  if (C.last) {
    var last = C.last.purchase;
    result = last;
    undoKey = newKey();
    text("last-text", last.display.time + " · " + last.display.bill + " · " + last.receipt_id);
    show($("last-undo"), true);
    var lastButton = $("last-undo-button");
    var lastNote = document.createElement("span");
    lastNote.className = "muted small";
    $("last-text").parentNode.appendChild(document.createElement("br"));
    $("last-text").parentNode.appendChild(lastNote);
    startUndoTimer(last.undo_until, last.display.undo_until, lastButton, lastNote);
    lastButton.addEventListener("click", function () { undo(last, lastButton); });
  }

  // --- refunds of past purchases ---------------------------------------------------------------
  var refundKey = null;
  var refundTarget = null;

  function listPurchases() {
    show($("refund-form"), false);
    show($("refunds-empty"), false);
    $("refunds-list").textContent = "";
    return call("GET", C.urls.purchases + "?card=" + encodeURIComponent(card.number)).then(function (data) {
      if (!data.purchases.length) {
        text("refunds-empty", S.noPurchases);
        show($("refunds-empty"), true);
        return;
      }
      data.purchases.forEach(function (p) {
        var li = document.createElement("li");
        li.setAttribute("data-purchase", String(p.id));
        var what = document.createElement("div");
        what.className = "till-purchase-what";
        var bill = document.createElement("strong");
        bill.textContent = p.display.bill;
        var when = document.createElement("span");
        when.className = "muted small";
        when.textContent = p.display.when + (p.display.refunded ? " · " + S.refundLeft.replace("%(amount)s", p.display.refundable) : "");
        what.appendChild(bill);
        what.appendChild(when);
        var button = document.createElement("button");
        button.type = "button";
        button.className = "secondary";
        button.textContent = $("refund-submit").textContent;
        button.addEventListener("click", function () { chooseRefund(p); });
        li.appendChild(what);
        li.appendChild(button);
        $("refunds-list").appendChild(li);
      });
    }, function (err) { alertShow(errorMessage(err)); });
  }

  function chooseRefund(p) {
    alertHide();
    refundTarget = p;
    refundKey = newKey();
    text("refund-which", p.display.when + " · " + p.display.bill);
    text("refund-help", S.refundLeft.replace("%(amount)s", p.display.refundable));
    $("refund-amount").value = p.refundable;
    show($("refunds-list"), false);
    show($("refund-form"), true);
    $("refund-amount").focus();
    $("refund-amount").select();
  }

  if ($("refund-start")) {
    $("refund-start").addEventListener("click", function () {
      alertHide();
      show($("purchase"), false);
      show($("result"), false);
      show($("refunds"), true);
      show($("refunds-list"), true);
      listPurchases();
    });
    $("refund-cancel").addEventListener("click", function () {
      alertHide();
      show($("refunds"), false);
      show($("purchase"), card && card.status !== "blocked");
    });
    $("refund-form").addEventListener("submit", function (event) {
      event.preventDefault();
      if (!refundTarget) { return; }
      var button = $("refund-submit");
      var label = button.textContent;
      button.disabled = true;
      button.textContent = S.working;
      var amount = $("refund-amount").value.trim().replace(",", ".").replace(/\s/g, "");
      var body = { purchase_id: refundTarget.id };
      if (amount !== refundTarget.refundable) { body.amount = amount; }
      call("POST", C.urls.refund, body, refundKey).then(function (data) {
        return call("GET", C.urls.lookup + "?q=" + encodeURIComponent(data.card_number)).then(function (found) {
          showCustomer(found.card);
          alertShow(S.refunded.replace("%(amount)s", data.refund.display.amount)
            .replace("%(balance)s", data.refund.display.balance), "success");
        });
      }, function (err) {
        alertShow(errorMessage(err), errorCode(err) === "invalid" ? "warning" : "error");
        // Nothing was written on an error; only a key already used for another amount needs a new one.
        if (errorCode(err) === "idempotency_key_reused") { refundKey = newKey(); }
      }).then(function () { button.disabled = false; button.textContent = label; });
    });
  }

  // --- scanning with the camera ---------------------------------------------------------------
  var scanButton = $("scan-button");
  var scanner = $("scanner");
  var video = $("scanner-video");
  var stream = null;
  var scanning = false;

  function stopScan() {
    scanning = false;
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.srcObject = null;
    show(scanner, false);
    show(findForm, true);
  }

  function startScan() {
    alertHide();
    var wanted = ["qr_code", "code_128", "pdf417", "aztec", "ean_13"];
    window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      var usable = wanted.filter(function (f) { return formats.indexOf(f) >= 0; });
      if (!usable.length) { throw { unsupported: true }; }
      var detector = new window.BarcodeDetector({ formats: usable });
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (s) {
          stream = s;
          video.srcObject = s;
          show(findForm, false);
          show(scanner, true);
          scanning = true;
          return video.play().then(function () { loop(detector); });
        });
    }).catch(function (err) {
      stopScan();
      alertShow(err && err.unsupported ? S.scanUnsupported : S.scanDenied, "warning");
      findInput.focus();
    });
  }

  function loop(detector) {
    if (!scanning) { return; }
    detector.detect(video).then(function (codes) {
      if (codes.length && codes[0].rawValue) {
        var value = codes[0].rawValue;
        stopScan();
        findInput.value = value;
        lookup(value);
      } else {
        setTimeout(function () { loop(detector); }, 150);
      }
    }, function () { setTimeout(function () { loop(detector); }, 300); });
  }

  // Offer the camera only where the browser can read barcodes; otherwise typing is the way.
  if ("BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    show(scanButton, true);
    scanButton.addEventListener("click", startScan);
    $("scan-cancel").addEventListener("click", stopScan);
  }

  findInput.focus();
})();
