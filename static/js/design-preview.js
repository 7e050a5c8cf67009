/* The card designer's live preview: keeps #design-preview in step with
   #design-form as the merchant types, and follows the wallet update progress.
   Plain JS, no dependencies. The server renders the same preview from the
   saved draft, so without JS the page still shows the last saved design. */
(function () {
  "use strict";

  var form = document.getElementById("design-form");
  var preview = document.getElementById("design-preview");
  if (!form || !preview) return;

  var HEX = /^#[0-9a-fA-F]{6}$/;
  var merchantName = form.dataset.merchantName || "";
  var objectUrls = {};
  var stripTimer = null;

  function all(selector) { return Array.prototype.slice.call(preview.querySelectorAll(selector)); }
  function field(name) { return form.elements.namedItem(name); }
  function value(name) { var el = field(name); return el ? (el.value || "").trim() : ""; }

  function channel(c) { c = c / 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); }
  function luminance(hex) {
    var r = parseInt(hex.substr(1, 2), 16), g = parseInt(hex.substr(3, 2), 16), b = parseInt(hex.substr(5, 2), 16);
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  }

  function contrast(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  function colours() {
    var bg = value("background_color"), fg = value("foreground_color"), label = value("label_color");
    if (HEX.test(bg)) {
      preview.style.setProperty("--card-bg", bg);
      // Google Wallet picks white or black text for the background itself.
      preview.style.setProperty("--g-fg", luminance(bg) > 0.4 ? "#1f1f1f" : "#ffffff");
    }
    if (HEX.test(fg)) preview.style.setProperty("--card-fg", fg);
    if (HEX.test(label)) preview.style.setProperty("--card-label", label);
    var warning = form.querySelector("[data-contrast-warning]");
    if (warning && HEX.test(bg) && HEX.test(fg) && HEX.test(label)) {
      // WCAG contrast; below 3 : 1 the text is hard to read on a phone in daylight.
      var weak = Math.min(contrast(bg, fg), contrast(bg, label)) < 3;
      warning.hidden = !weak;
    }
    form.querySelectorAll("input[type=color][data-colour-for]").forEach(function (picker) {
      var text = document.getElementById(picker.dataset.colourFor);
      var typed = (text.value || "").trim();
      if (HEX.test(typed) && picker.value.toLowerCase() !== typed.toLowerCase()) picker.value = typed.toLowerCase();
      text.closest(".colour-field").classList.toggle("is-invalid", !HEX.test(typed));
    });
    scheduleStrip();
  }

  function scheduleStrip() {
    var strips = all("[data-stamp-strip]");
    if (!strips.length) return;
    clearTimeout(stripTimer);
    stripTimer = setTimeout(function () {
      var bg = value("background_color"), fg = value("foreground_color");
      if (!HEX.test(bg) || !HEX.test(fg)) return;
      var url = form.dataset.stripUrl + "?bg=" + encodeURIComponent(bg) + "&fg=" + encodeURIComponent(fg) +
        "&filled=" + form.dataset.stampsFilled + "&total=" + form.dataset.stampsTotal;
      strips.forEach(function (img) { if (img.getAttribute("src") !== url) img.src = url; });
    }, 200);
  }

  function texts() {
    var title = value("program_name") || merchantName;
    all("[data-bind=program_name]").forEach(function (el) { el.textContent = title; });
    var message = value("change_message");
    all("[data-bind=change_message]").forEach(function (el) {
      // Empty: the standard message, which each phone shows in its own language.
      var text = message || el.dataset.default || "";
      el.textContent = text.split("%@").join(form.dataset.sampleValue || "350");
    });
    // The stamp rule is always on a stamp card's back.
    var anyBack = all("[data-back-fixed]").length > 0;
    ["terms", "contacts", "website", "phone"].forEach(function (name) {
      var text = value(name);
      all("[data-bind=" + name + "]").forEach(function (el) { el.textContent = text; });
      all("[data-back=" + name + "]").forEach(function (el) { el.hidden = !text; });
      anyBack = anyBack || !!text;
    });
    all("[data-back-empty]").forEach(function (el) { el.hidden = anyBack; });
  }

  function toggles() {
    ["show_balance", "show_tier", "show_name"].forEach(function (name) {
      var box = field(name);
      if (!box) return;
      all("[data-show=" + name + "]").forEach(function (el) { el.hidden = !box.checked; });
    });
    var checked = form.querySelector("input[name=barcode_format]:checked");
    if (checked) {
      all("[data-barcode]").forEach(function (el) { el.hidden = el.dataset.barcode !== checked.value; });
    }
  }

  function hasImage(kind) {
    return all("img[data-img=" + kind + "]").some(function (img) { return !img.hidden && img.getAttribute("src"); });
  }

  function logoDependants() {
    var logo = hasImage("logo");
    // Apple shows the title beside the logo only when there is no logo (as the pass builder does).
    all("[data-hide-with-logo]").forEach(function (el) { el.hidden = logo; });
    all(".gpass-letter[data-letter]").forEach(function (el) { el.hidden = logo; });
    var icon = hasImage("icon");
    all(".lock-notice-letter[data-letter]").forEach(function (el) { el.hidden = icon; });
  }

  function showImage(kind, url) {
    all("img[data-img=" + kind + "]").forEach(function (img) {
      if (url) { img.src = url; img.hidden = false; } else { img.hidden = true; }
    });
    var thumb = form.querySelector("[data-thumb=" + kind + "]");
    if (thumb && url) {
      thumb.innerHTML = "";
      var img = document.createElement("img");
      img.src = url;
      img.alt = "";
      thumb.appendChild(img);
    }
    logoDependants();
  }

  function onFile(input) {
    var kind = input.dataset.image;
    var file = input.files && input.files[0];
    if (objectUrls[kind]) URL.revokeObjectURL(objectUrls[kind]);
    objectUrls[kind] = null;
    if (!file) return;
    if (!/^image\/(png|jpeg)$/.test(file.type)) return; // the server explains the refusal on save
    objectUrls[kind] = URL.createObjectURL(file);
    showImage(kind, objectUrls[kind]);
    var clear = form.querySelector("[data-clear=" + kind + "]");
    if (clear) clear.checked = false;
  }

  function onClear(box) {
    var kind = box.dataset.clear;
    all("img[data-img=" + kind + "]").forEach(function (img) { img.hidden = box.checked; });
    logoDependants();
  }

  function update(event) {
    var target = event && event.target;
    if (target && target.type === "color" && target.dataset.colourFor) {
      document.getElementById(target.dataset.colourFor).value = target.value;
    }
    if (target && target.type === "file") onFile(target);
    if (target && target.dataset && target.dataset.clear) onClear(target);
    colours();
    texts();
    toggles();
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
  logoDependants();

  // Wallet update progress after a publish: poll until every card is done.
  var progress = document.getElementById("sync-progress");
  if (progress && Number(progress.dataset.waiting) > 0) {
    var poll = function () {
      fetch(progress.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) return;
          var bar = progress.querySelector(".sync-bar span");
          bar.style.width = (data.total ? Math.round(100 * data.updated / data.total) : 100) + "%";
          var template = data.waiting ? progress.dataset.runningText : progress.dataset.doneText;
          progress.querySelector(".sync-text").textContent = template
            .replace("%(updated)s", data.updated).replace("%(total)s", data.total);
          progress.classList.toggle("running", data.waiting > 0);
          if (data.waiting > 0) setTimeout(poll, 2000);
        })
        .catch(function () { setTimeout(poll, 5000); });
    };
    setTimeout(poll, 1500);
  }
})();
