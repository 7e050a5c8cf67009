/* Dashboard top bar: pick the layout that shows every menu entry whole.
   Loaded right after the header (not deferred) so the choice is made before
   the first paint. Layouts are described in app.css ("Dashboard top bar"). */
(function () {
  "use strict";
  var bar = document.getElementById("topbar");
  if (!bar) return;
  var nav = bar.querySelector(".nav");
  var toggle = bar.querySelector(".nav-toggle");
  var brand = bar.querySelector(".brand-name");
  var WIDE = 860;
  var MODES = ["is-inline", "is-wrapped", "is-menu"];

  function overflows(el) {
    return el.scrollWidth > el.clientWidth + 1;
  }

  function setOpen(open) {
    bar.classList.toggle("is-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function choose() {
    // One row, if the nav and a readable brand fit beside each other.
    bar.classList.add("is-inline");
    if (!overflows(nav) && !(brand && overflows(brand) && brand.clientWidth < 120)) return;
    bar.classList.remove("is-inline");
    // Else the nav on its own row; if even that is too narrow, wrap it (wide
    // screens) or fold it into the section menu (phones and tablets).
    if (overflows(nav)) bar.classList.add(window.innerWidth >= WIDE ? "is-wrapped" : "is-menu");
  }

  function layout() {
    var wasOpen = bar.classList.contains("is-open");
    MODES.forEach(function (mode) { bar.classList.remove(mode); });
    bar.classList.remove("is-open");
    choose();
    setOpen(wasOpen && bar.classList.contains("is-menu"));
  }

  layout();

  var pending = false;
  window.addEventListener("resize", function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; layout(); });
  });
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(layout);

  toggle.addEventListener("click", function () {
    setOpen(!bar.classList.contains("is-open"));
  });
  document.addEventListener("click", function (event) {
    if (bar.classList.contains("is-open") && !bar.contains(event.target)) setOpen(false);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && bar.classList.contains("is-open")) {
      setOpen(false);
      toggle.focus();
    }
  });
})();
