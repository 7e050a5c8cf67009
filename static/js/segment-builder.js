/* The segment builder: edits the definition (groups of conditions, see
   campaigns/models/segments.py), keeps it in the form's hidden "definition"
   field, and asks the server for the live count (debounced; an answer to an
   older edit is ignored). Plain JS, no dependencies. The server validates
   everything again on save. */
(function () {
  "use strict";

  var form = document.getElementById("segment-form");
  var root = document.getElementById("segment-builder");
  if (!form || !root) return;

  var schema = JSON.parse(document.getElementById("segment-schema").textContent);
  var state = JSON.parse(document.getElementById("segment-initial").textContent) || {};
  var hidden = document.getElementById("segment-definition-input");
  var countEl = document.getElementById("segment-count");
  var sampleEl = document.getElementById("segment-sample");
  var errorsEl = document.getElementById("segment-live-errors");
  var T = root.dataset;
  var byField = {};
  schema.forEach(function (c) { byField[c.field] = c; });

  if (!state.match) state.match = "all";
  if (!Array.isArray(state.groups) || !state.groups.length) state.groups = [{ match: "all", conditions: [] }];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "class") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function select(options, value, label, onChange) {
    var s = el("select", { "aria-label": label });
    options.forEach(function (o) {
      var opt = el("option", { value: o.value, text: o.label });
      if (String(o.value) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    s.addEventListener("change", function () { onChange(s.value); });
    return s;
  }

  function input(type, value, label, onInput, cls) {
    var i = el("input", { type: type, "aria-label": label });
    if (cls) i.className = cls;
    if (type === "text") i.setAttribute("inputmode", "decimal");
    i.value = value === undefined || value === null ? "" : value;
    i.addEventListener("input", function () { onInput(i.value); });
    return i;
  }

  function defaultCondition(spec) {
    var c = { field: spec.field, op: spec.ops[0].value };
    if (spec.kind === "choice") c.value = [];
    else if (spec.kind === "bool") c.value = true;
    else if (spec.kind === "date") c.value = new Date().toISOString().slice(0, 10);
    else c.value = spec.kind === "number" ? Math.max(spec.min || 0, spec.field === "birthday_within" ? 7 : 1) : "";
    if (spec.period === "required") c.days = 7;
    Object.keys(spec.params || {}).forEach(function (name) { c[name] = spec.params[name][0].value; });
    return c;
  }

  function valueEditor(spec, c) {
    var label = spec.label;
    if (spec.kind === "choice") {
      var chosen = Array.isArray(c.value) ? c.value : [];
      var box = el("div", { class: "seg-checks", role: "group", "aria-label": label });
      spec.choices.forEach(function (choice) {
        var cb = el("input", { type: "checkbox", value: choice.value });
        cb.checked = chosen.indexOf(choice.value) >= 0;
        cb.addEventListener("change", function () {
          var now = Array.isArray(c.value) ? c.value.slice() : [];
          var at = now.indexOf(choice.value);
          if (cb.checked && at < 0) now.push(choice.value);
          if (!cb.checked && at >= 0) now.splice(at, 1);
          c.value = now;
          changed();
        });
        box.appendChild(el("label", {}, [cb, el("span", { text: choice.label })]));
      });
      return [box];
    }
    if (spec.kind === "bool") {
      return [select([{ value: "true", label: T.textYes }, { value: "false", label: T.textNo }], String(c.value !== false), label,
        function (v) { c.value = v === "true"; changed(); })];
    }
    var type = spec.kind === "date" ? "date" : (spec.kind === "money" || spec.kind === "decimal" ? "text" : "number");
    var cls = spec.kind === "date" ? "" : "seg-num";
    if (c.op === "between") {
      var pair = Array.isArray(c.value) ? c.value : [c.value, c.value];
      c.value = pair;
      return [
        input(type, pair[0], label, function (v) { c.value[0] = v; changed(); }, cls),
        el("span", { text: T.textAnd }),
        input(type, pair[1], label, function (v) { c.value[1] = v; changed(); }, cls),
      ];
    }
    if (Array.isArray(c.value)) c.value = c.value[0];
    return [input(type, c.value, label, function (v) { c.value = v; changed(); }, cls)];
  }

  function conditionRow(group, index) {
    var c = group.conditions[index];
    var spec = byField[c.field];
    var fieldOptions = schema.map(function (s) { return { value: s.field, label: s.label }; });
    var parts = [
      select(fieldOptions, c.field, T.textChoose, function (v) {
        group.conditions[index] = defaultCondition(byField[v]);
        render();
        changed();
      }),
    ];
    Object.keys(spec.params || {}).forEach(function (name) {
      parts.push(select(spec.params[name], c[name], spec.label, function (v) { c[name] = v; changed(); }));
    });
    if (spec.ops.length > 1) {
      parts.push(select(spec.ops, c.op, spec.label, function (v) {
        c.op = v;
        render();
        changed();
      }));
    } else if (spec.kind !== "choice") {
      parts.push(el("span", { text: spec.ops[0].label }));
    }
    parts = parts.concat(valueEditor(spec, c));
    if (spec.unit) parts.push(el("span", { class: "muted", text: spec.unit }));
    if (spec.period) {
      parts.push(el("span", { text: T.textPeriod }));
      parts.push(input("number", c.days, T.textPeriod, function (v) { c.days = v === "" ? null : v; changed(); }, "seg-num"));
      parts.push(el("span", { class: "muted", text: spec.period === "optional" ? T.textPeriodDays : T.textDays }));
    }
    var remove = el("button", { type: "button", class: "link seg-remove", text: T.textRemove });
    remove.addEventListener("click", function () {
      group.conditions.splice(index, 1);
      render();
      changed();
    });
    parts.push(remove);
    if (spec.help) parts.push(el("p", { class: "seg-help", text: spec.help }));
    return el("div", { class: "seg-cond", "data-testid": "segment-condition" }, parts);
  }

  function groupBox(group, gi) {
    var head = el("div", { class: "seg-group-head" }, [
      el("strong", { text: T.textGroup + " " + (gi + 1) + ":" }),
      select([{ value: "all", label: T.textGroupAll }, { value: "any", label: T.textGroupAny }], group.match, T.textGroup,
        function (v) { group.match = v; changed(); }),
      el("span", { class: "spacer" }),
    ]);
    if (state.groups.length > 1) {
      var drop = el("button", { type: "button", class: "link", text: T.textRemoveGroup });
      drop.addEventListener("click", function () {
        state.groups.splice(gi, 1);
        render();
        changed();
      });
      head.appendChild(drop);
    }
    var box = el("fieldset", { class: "seg-group", "data-testid": "segment-group" }, [head]);
    group.conditions.forEach(function (_c, ci) { box.appendChild(conditionRow(group, ci)); });
    var add = el("button", { type: "button", class: "secondary small", text: T.textAddCondition, "data-testid": "add-condition" });
    add.addEventListener("click", function () {
      group.conditions.push(defaultCondition(schema[0]));
      render();
      changed();
    });
    box.appendChild(add);
    return box;
  }

  function render() {
    root.textContent = "";
    root.appendChild(el("div", { class: "seg-top" }, [
      el("span", { text: T.textCustomersMatching }),
      select([{ value: "all", label: T.textMatchAll }, { value: "any", label: T.textMatchAny }], state.match, T.textCustomersMatching,
        function (v) { state.match = v; render(); changed(); }),
    ]));
    state.groups.forEach(function (group, gi) {
      if (gi > 0) root.appendChild(el("p", { class: "seg-join", text: state.match === "all" ? T.textAnd : T.textOr }));
      root.appendChild(groupBox(group, gi));
    });
    var addGroup = el("button", { type: "button", class: "secondary small", text: T.textAddGroup, "data-testid": "add-group" });
    addGroup.addEventListener("click", function () {
      state.groups.push({ match: "all", conditions: [defaultCondition(schema[0])] });
      render();
      changed();
    });
    root.appendChild(addGroup);
  }

  var timer = null;
  var sequence = 0;

  function changed() {
    hidden.value = JSON.stringify(state);
    countEl.classList.add("stale");
    clearTimeout(timer);
    timer = setTimeout(count, 300);
  }

  function csrf() {
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    return token ? token.value : "";
  }

  function show(data) {
    errorsEl.textContent = "";
    (data.errors || []).forEach(function (e) { errorsEl.appendChild(el("li", { text: e })); });
    sampleEl.textContent = "";
    if (data.errors && data.errors.length) return;
    countEl.textContent = data.count_text;
    countEl.dataset.count = data.count;
    countEl.classList.remove("stale");
    (data.sample || []).forEach(function (c) {
      var name = c.url ? el("a", { href: c.url, text: c.name }) : el("span", { text: c.name });
      sampleEl.appendChild(el("li", {}, [name, el("span", { class: "sub", text: c.phone })]));
    });
  }

  function count() {
    var mine = ++sequence;
    fetch(form.dataset.countUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ definition: state }),
    })
      .then(function (response) { return response.json(); })
      .then(function (data) { if (mine === sequence) show(data); })
      .catch(function () { if (mine === sequence) show({ errors: [T.textError] }); });
  }

  render();
  hidden.value = JSON.stringify(state);
  count();
})();
