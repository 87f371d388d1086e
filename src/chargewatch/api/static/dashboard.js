/* chargewatch pages: live values from server-sent events, section refresh, admin actions, charts, driver feedback.
 * No framework: a section is re-rendered by the server (fetch the page, swap the element with the same id),
 * so what a page shows live and after a reload is the same template. */
(function () {
  "use strict";

  var body = document.body;
  var page = body.dataset.page;

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
  function csrf() { var m = $('meta[name="csrf-token"]'); return m ? m.content : ""; }

  // Figures in the console's locale (the server renders the same): "7,4 kW" in German, "7.4 kW" in English.
  var locale = body.dataset.lang === "de" ? "de-DE" : "en-GB";
  function fixed(value, digits) {
    return new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
  }
  function kw(w) { return w === null || w === undefined ? "–" : fixed(w / 1000, 1) + " kW"; }
  function kwh(wh) { return wh === null || wh === undefined ? "–" : fixed(wh / 1000, 2) + " kWh"; }
  function parseFigure(text) {
    var plain = body.dataset.lang === "de" ? text.replace(/\./g, "").replace(",", ".") : text.replace(/,/g, "");
    return parseFloat(plain);
  }
  function duration(s) {
    if (s === null || s === undefined) { return "–"; }
    s = Math.floor(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return h ? h + " h " + String(m).padStart(2, "0") + " min" : m + " min " + String(sec).padStart(2, "0") + " s";
  }

  var toastTimer = null;
  function toast(message, bad) {
    var el = $("#toast");
    if (!el) { return; }
    el.textContent = message;
    el.classList.toggle("bad", !!bad);
    el.classList.remove("hidden");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.classList.add("hidden"); }, 4000);
  }

  function setText(el, text) {
    if (!el || el.textContent === text) { return; }
    el.textContent = text;
    el.classList.remove("flash");
    void el.offsetWidth;  // restart the highlight animation
    el.classList.add("flash");
  }

  /* ---------------------------------------------------------------- section refresh */

  var refreshTimer = null, refreshing = false, refreshAgain = false;
  function refreshSections(delay) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(doRefresh, delay === undefined ? 800 : delay);
  }
  function doRefresh() {
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected && r.url.indexOf("/login") >= 0) { location.href = r.url; return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        $all("[data-section][id]").forEach(function (old) {
          if (old.dataset.dirty) { return; }  // never throw away what someone is typing
          var next = fresh.getElementById(old.id);
          if (next && next.innerHTML !== old.innerHTML) { old.replaceWith(document.importNode(next, true)); }
        });
        body.dataset.active = fresh.body.dataset.active || body.dataset.active;
        document.dispatchEvent(new CustomEvent("cw:refreshed"));
      })
      .catch(function () { /* next event tries again */ })
      .then(function () {
        refreshing = false;
        if (refreshAgain) { refreshAgain = false; refreshSections(); }
      });
  }

  ["input", "change"].forEach(function (kind) {
    document.addEventListener(kind, function (event) {
      var section = event.target.closest && event.target.closest("[data-section]");
      if (section && event.target.closest("form")) { section.dataset.dirty = "1"; }
    });
  });

  /* ---------------------------------------------------------------- admin actions */

  // What a command to a charger came to (POST …/commands and incident actions answer alike): the charger's own
  // answer (Accepted, Rejected, Scheduled, Unlocked, …), its CALLERROR, no answer in time, or not sent at all.
  var COMMAND_STATES = ["answered", "error", "timeout", "offline", "pending"];
  var GOOD_ANSWERS = ["Accepted", "Scheduled", "Unlocked", "RebootRequired"];
  function isCommandResult(data) {
    return data && typeof data === "object" && "response" in data && COMMAND_STATES.indexOf(data.status) >= 0;
  }
  function commandOutcome(what, data) {
    var answer = data.response || {}, error = data.error || (data.status === "error" ? answer : {});
    if (data.status === "offline") { return { text: what + " not sent: the charger is offline", bad: true }; }
    if (data.status === "timeout") { return { text: what + ": no answer from the charger in time (timeout)", bad: true }; }
    if (data.status === "pending") { return { text: what + ": sent, waiting for the charger", bad: false }; }
    if (data.status === "error") {
      var code = error.code || error.errorCode || "error", words = error.description || error.errorDescription || error.reason || "";
      return { text: what + " failed: the charger answered " + code + (words ? " (" + words + ")" : ""), bad: true };
    }
    var status = answer.status || (answer.idTagInfo && answer.idTagInfo.status);
    if (!status) { return { text: what + ": the charger answered", bad: false }; }
    return { text: what + ": the charger answered " + status, bad: GOOD_ANSWERS.indexOf(status) < 0 };
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-api]");
    if (!button) { return; }
    event.preventDefault();
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) { return; }
    var parts = button.dataset.api.split(" ");
    button.disabled = true;
    fetch(parts[1], {
      method: parts[0], credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf(), "Accept": "application/json" },
      body: button.dataset.body || "{}"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || data);
          toast((button.dataset.done || "Action") + " failed: " + detail, true);
        } else if (isCommandResult(data)) {
          var told = commandOutcome(button.dataset.done || "Command", data);
          toast(told.text, told.bad);
        } else {
          toast(button.dataset.done || "Done");
        }
        refreshSections(300);
      });
    }).catch(function () { toast("Failed: no connection to the server", true); })
      .then(function () { button.disabled = false; });
  });

  /* ---------------------------------------------------------------- charts */

  var palette = ["#0b6e4f", "#1565c0", "#c62828", "#9a6700", "#6a1b9a", "#00838f"];
  // Chart times in the zone the page shows (the station's or the operator's), never silently the browser's.
  function timeTick(value, zone) {
    var options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    options.timeZone = zone || body.dataset.zone || undefined;
    try { return new Date(value).toLocaleTimeString(locale, options); } catch (e) { delete options.timeZone; return new Date(value).toLocaleTimeString(locale, options); }
  }
  function hourTick(value, zone) {
    var options = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: zone || body.dataset.zone || undefined };
    try { return new Date(value).toLocaleTimeString(locale, options); } catch (e) { return new Date(value).toISOString().slice(11, 16); }
  }
  function readJson(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; }

  var sessionChart = null;
  function sessionChartInit() {
    var canvas = $("#session-chart"), points = readJson("session-points");
    if (!canvas || !window.Chart) { return; }
    // The x axis spans the session: from its start to its stop (to now while it runs).
    var xs = points.map(function (p) { return p.x; });
    var start = canvas.dataset.start ? Number(canvas.dataset.start) : (xs.length ? Math.min.apply(null, xs) : Date.now());
    var end = canvas.dataset.end ? Number(canvas.dataset.end) : Math.max(Date.now(), xs.length ? Math.max.apply(null, xs) : 0);
    sessionChart = new Chart(canvas, {
      type: "line",
      data: { datasets: [
        { label: "Power (kW)", yAxisID: "kw", data: points.filter(function (p) { return p.kw !== null; }).map(function (p) { return { x: p.x, y: p.kw }; }),
          borderColor: palette[0], backgroundColor: "rgba(11,110,79,.12)", fill: true, pointRadius: 0, tension: .25 },
        { label: "Energy (kWh)", yAxisID: "kwh", data: points.filter(function (p) { return p.kwh !== null; }).map(function (p) { return { x: p.x, y: p.kwh }; }),
          borderColor: palette[1], pointRadius: 0, tension: .25 }
      ] },
      options: {
        animation: false, maintainAspectRatio: false, parsing: false, interaction: { mode: "index", intersect: false },
        scales: {
          x: { type: "linear", min: start, max: Math.max(end, start + 60000),
               ticks: { callback: function (v) { return timeTick(v); }, maxTicksLimit: 6 },
               title: { display: true, text: "time, " + (body.dataset.zone || "UTC") } },
          kw: { position: "left", beginAtZero: true, title: { display: true, text: "kW" } },
          kwh: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "kWh" } }
        },
        plugins: { tooltip: { callbacks: { title: function (items) { return items.length ? timeTick(items[0].parsed.x) : ""; } } } }
      }
    });
  }
  function sessionChartAdd(at, powerW, energyWh) {
    if (!sessionChart) { return; }
    var x = Date.parse(at);
    if (powerW !== null && powerW !== undefined) { sessionChart.data.datasets[0].data.push({ x: x, y: powerW / 1000 }); }
    if (energyWh !== null && energyWh !== undefined) { sessionChart.data.datasets[1].data.push({ x: x, y: energyWh / 1000 }); }
    var axis = sessionChart.options.scales.x;
    if (!$("#session-chart").dataset.end && x > axis.max) { axis.max = x; }
    var empty = $("#no-points");
    if (empty) { empty.remove(); }
    sessionChart.update("none");
  }

  function stationChartInit() {
    var canvas = $("#station-power"), curves = readJson("station-curves");
    if (!canvas || !window.Chart || !curves || !curves.length) { return; }
    new Chart(canvas, {
      type: "line",
      data: { datasets: curves.map(function (c, i) {
        return { label: c.label, data: c.points, borderColor: palette[i % palette.length], pointRadius: 0, tension: .25 };
      }) },
      options: {
        animation: false, maintainAspectRatio: false, parsing: false,
        scales: { x: { type: "linear", min: 0, max: Math.max.apply(null, curves.map(function (c) { return c.minutes || 1; })),
                       title: { display: true, text: "minutes since start" } },
                  y: { beginAtZero: true, title: { display: true, text: "kW" } } },
        plugins: { legend: { labels: { boxWidth: 12 } } }
      }
    });
  }

  function fleetPowerInit() {
    var canvas = $("#fleet-power"), points = readJson("fleet-power-points");
    if (!canvas || !window.Chart || !points) { return; }
    var zone = canvas.dataset.zone;
    new Chart(canvas, {
      type: "line",
      data: { datasets: [{ label: "Fleet power (kW)", data: points, borderColor: palette[0],
                           backgroundColor: "rgba(11,110,79,.12)", fill: true, pointRadius: 0, stepped: true }] },
      options: {
        animation: false, maintainAspectRatio: false, parsing: false,
        scales: { x: { type: "linear", min: Number(canvas.dataset.from), max: Number(canvas.dataset.to),
                       ticks: { callback: function (v) { return hourTick(v, zone); }, maxTicksLimit: 8 },
                       title: { display: true, text: "today, " + zone } },
                  y: { beginAtZero: true, title: { display: true, text: "kW" } } },
        plugins: { legend: { display: false },
                   tooltip: { callbacks: { title: function (items) { return items.length ? hourTick(items[0].parsed.x, zone) + " " + zone : ""; } } } }
      }
    });
  }

  /* ---------------------------------------------------------------- time zone */

  // The operator's own zone (as this browser knows it) goes to the server in a cookie, so "today" is their day;
  // the switch between the station's zone and their own is a cookie too.
  function cookie(name, value) {
    document.cookie = name + "=" + encodeURIComponent(value) + "; path=/; max-age=31536000; SameSite=Lax";
  }
  function zoneCookie() {
    var mine = "";
    try { mine = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
    if (!mine) { return; }
    cookie("cw_myzone", mine);
    if (body.dataset.myzone !== mine && page !== "login" && page !== "driver" && !sessionStorage.getItem("cw_zone_told")) {
      sessionStorage.setItem("cw_zone_told", "1");  // once: a browser refusing cookies must not reload forever
      location.reload();
    }
  }
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("#zone-toggle");
    if (!toggle) { return; }
    cookie("cw_tz", toggle.dataset.mode);
    location.reload();
  });

  function feedbackChartInit() {
    var canvas = $("#feedback-weekly"), weeks = readJson("weekly-scores");
    if (!canvas || !window.Chart || !weeks) { return; }
    new Chart(canvas, {
      data: {
        labels: weeks.map(function (w) { return w.week; }),
        datasets: [
          { type: "bar", label: "CSAT %", yAxisID: "csat", data: weeks.map(function (w) { return w.csat_percent; }), backgroundColor: "rgba(11,110,79,.55)", maxBarThickness: 48 },
          { type: "line", label: "NPS", yAxisID: "nps", data: weeks.map(function (w) { return w.nps; }), borderColor: palette[1], tension: .25 }
        ]
      },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: { csat: { position: "left", min: 0, max: 100, title: { display: true, text: "CSAT %" } },
                  nps: { position: "right", min: -100, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "NPS" } } }
      }
    });
  }

  /* ---------------------------------------------------------------- live figures */

  function showSession(data) {
    if (body.dataset.active !== "no" || data.status === "active") { setText($("#live-power"), kw(data.power_w)); }
    setText($("#live-energy"), kwh(data.energy_wh));
    setText($("#live-soc"), data.soc === null || data.soc === undefined ? "–" : data.soc + " %");
    if (page !== "driver") { setText($("#live-charging"), duration(data.charging_seconds)); }
  }

  function updateRow(data) {
    var row = $('[data-tx="' + data.transaction_id + '"]');
    if (!row) { return false; }
    setText($('[data-field="power_w"]', row), kw(data.power_w));
    setText($('[data-field="energy_wh"]', row), kwh(data.energy_wh));
    var soc = $('[data-field="soc"]', row);
    if (soc) { setText(soc, data.soc === null || data.soc === undefined ? "–" : data.soc + " %"); }
    return true;
  }

  function totalPower() {
    var el = $('[data-kpi="power"]');
    if (!el) { return; }
    var total = 0;
    $all('#active-sessions [data-field="power_w"]').forEach(function (cell) {
      var value = parseFigure(cell.textContent);
      if (!isNaN(value)) { total += value * 1000; }
    });
    setText(el, kw(total) + " in total");
  }

  function listen(url, handlers) {
    if (!window.EventSource) { return; }
    var source = new EventSource(url, { withCredentials: true });
    var dot = $("#live-dot");
    source.onopen = function () { if (dot) { dot.classList.add("on"); } body.dataset.live = "on"; };
    source.onerror = function () { if (dot) { dot.classList.remove("on"); } body.dataset.live = "off"; };
    Object.keys(handlers).forEach(function (kind) {
      source.addEventListener(kind, function (event) { handlers[kind](JSON.parse(event.data || "{}"), kind); });
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function operatorLive() {
    var charger = body.dataset.charger, tx = body.dataset.transaction ? Number(body.dataset.transaction) : null;
    var mine = function (data) {
      return (!charger || data.charger_id === charger) && (tx === null || data.transaction_id === tx || data.transaction_id === undefined);
    };
    var structural = function (data) { if (mine(data)) { refreshSections(); } };
    var handlers = {
      "session.updated": function (data) {
        if (tx !== null) {
          if (data.transaction_id === tx) { showSession(data); sessionChartAdd(data.at, data.power_w, data.energy_wh); }
          return;
        }
        if (updateRow(data)) { totalPower(); } else if (mine(data)) { refreshSections(); }
      },
      "session.started": structural,
      "session.stopped": function (data) {
        if (tx !== null && data.transaction_id === tx) { showSession(data); }
        structural(data);
      },
      "connector.status": structural,
      "charger.connected": structural,
      "charger.disconnected": structural,
      "charger.booted": structural,
      "lagged": function () { refreshSections(); }
    };
    ["incident.opened", "incident.updated", "incident.acknowledged", "incident.resolved", "incident.escalated",
     "feedback.submitted", "invoice.issued", "support.message", "support.resolved",
     "billing.dispute_decided", "reservation.answered", "reservation.cancelled", "reservation.expired",
     "reservation.used"].forEach(function (kind) {
      handlers[kind] = function (data) { if (!charger || !data.charger_id || data.charger_id === charger) { refreshSections(); } };
    });
    listen("/api/v1/events", handlers);
  }

  /* ---------------------------------------------------------------- driver page */

  function driverLive() {
    var token = body.dataset.token;
    var costTimer = null;
    listen("/s/" + encodeURIComponent(token) + "/events", {
      "session.updated": function (data) {
        showSession(data);
        clearTimeout(costTimer);
        costTimer = setTimeout(function () { refreshSections(0); }, 4000);
      },
      "session.stopped": function (data) {
        body.dataset.active = "no";
        showSession(data);
        setText($("#live-power"), "–");
        // The receipt follows the stop once billing has priced the session: look again a little later too.
        refreshSections(500);
        setTimeout(function () { refreshSections(0); }, 4000);
        setTimeout(function () { refreshSections(0); }, 12000);
      },
      "support.message": function (data) { supportAppend($("#support-messages"), data); }
    });
  }

  function feedbackForm() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.id !== "feedback-form") { return; }
      event.preventDefault();
      var payload = { survey_id: form.dataset.survey, answers: {} }, missing = null;
      $all("[data-error-for]", form).forEach(function (el) { el.textContent = ""; });
      $all("fieldset[data-question]", form).forEach(function (set) {
        var id = set.dataset.question, kind = set.dataset.kind, as = set.dataset.as, value = null;
        if (kind === "multi_choice") {
          value = $all("input:checked", set).map(function (i) { return i.value; });
          if (!value.length) { value = null; }
        } else if (kind === "rating" || kind === "scale" || kind === "single_choice") {
          var checked = $("input:checked", set);
          value = checked ? (kind === "single_choice" ? checked.value : Number(checked.value)) : null;
          if (kind === "rating" && value === null && $("input[required]", set)) { missing = missing || id; }
        } else {
          var input = $("textarea, input", set);
          value = input && input.value.trim() ? input.value.trim() : null;
        }
        if (value === null) { return; }
        if (id === "contact.email") { payload.contact = { email: value }; }
        else if (as === "answers") { payload.answers[id] = value; }
        else { payload[id] = value; }
      });
      var errors = $("#feedback-errors");
      if (missing) {
        var beside = $('[data-error-for="' + missing + '"]', form) || errors;
        beside.textContent = form.dataset.missing || "Please choose a rating.";
        return;
      }
      errors.textContent = "";
      var button = $("button[type=submit]", form);
      button.disabled = true;
      fetch("/api/v1/feedback/" + encodeURIComponent(body.dataset.token) + "?lang=" + body.dataset.lang, {
        method: "PUT", headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(payload)
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (r.ok) { delete form.closest("[data-section]").dataset.dirty; refreshSections(0); return; }
          // The API's problem body: "errors" names the fields at fault, "detail" says it in one line.
          errors.textContent = (data.errors && data.errors.length)
            ? data.errors.map(function (d) { return d.field + ": " + d.reason; }).join("; ")
            : String(data.detail || "HTTP " + r.status);
        });
      }).catch(function () { errors.textContent = "No connection — please try again."; })
        .then(function () { button.disabled = false; });
    });
  }

  function reportForm() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.id !== "report-form") { return; }
      event.preventDefault();
      var errors = $("#report-errors"), done = $("#report-done");
      errors.textContent = "";
      fetch("/api/v1/driver/reports?lang=" + body.dataset.lang, {
        method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ token: body.dataset.token, category: form.category.value, text: form.text.value.trim() })
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) { errors.textContent = typeof data.detail === "string" ? data.detail : "HTTP " + r.status; return; }
          form.classList.add("hidden");
          delete form.closest("[data-section]").dataset.dirty;
          done.textContent = data.message + " (#" + data.reference + ")";
          done.classList.remove("hidden");
          refreshSections(1000);
        });
      }).catch(function () { errors.textContent = "No connection — please try again."; });
    });
  }

  /* ---------------------------------------------------------------- support conversation */

  function supportAppend(list, message) {
    if (!list || $('[data-message="' + message.message_id + '"]', list)) { return; }
    var item = document.createElement("li"), who = document.createElement("span"), text = document.createElement("span");
    item.className = "support-" + message.author;
    item.dataset.message = message.message_id;
    who.className = "muted small";
    who.textContent = message.author === "driver" ? list.dataset.you : list.dataset.operator;
    text.className = "support-body";
    text.textContent = message.body;
    item.appendChild(who); item.appendChild(document.createTextNode(" ")); item.appendChild(text);
    list.appendChild(item);
  }

  function supportForm() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.id !== "support-form") { return; }
      event.preventDefault();
      var errors = $("#support-errors"), text = form.body.value.trim();
      errors.textContent = "";
      if (!text) { return; }
      fetch("/api/v1/driver/" + encodeURIComponent(body.dataset.token) + "/support/messages", {
        method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ body: text })
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) { errors.textContent = typeof data.detail === "string" ? data.detail : "HTTP " + r.status; return; }
          form.body.value = "";
          var list = $("#support-messages");
          (data.messages || []).forEach(function (m) {
            supportAppend(list, { message_id: m.id, author: m.author, body: m.body });
          });
        });
      }).catch(function () { errors.textContent = "No connection — please try again."; });
    });
  }

  function receiptEmailForm() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.id !== "receipt-email-form") { return; }
      event.preventDefault();
      var errors = $("#receipt-email-errors"), done = $("#receipt-email-done"), email = form.email.value.trim();
      errors.textContent = "";
      done.classList.add("hidden");
      if (!email) { return; }
      fetch("/api/v1/driver/" + encodeURIComponent(body.dataset.token) + "/receipt/email", {
        method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ email: email, lang: form.dataset.lang || "en" })
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok || data.email !== "sent") {
            errors.textContent = typeof data.detail === "string" ? data.detail
              : (data.detail && data.detail[0] && data.detail[0].reason) || ("HTTP " + r.status);
            return;
          }
          done.classList.remove("hidden");
        });
      }).catch(function () { errors.textContent = "No connection — please try again."; });
    });
  }

  function operatorSupport() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.classList.contains("support-reply")) { return; }
      event.preventDefault();
      var text = form.body.value.trim(), errors = $(".field-errors", form);
      if (!text) { return; }
      var csrf = $('meta[name="csrf-token"]');
      fetch("/api/v1/support/conversations/" + form.dataset.conversation + "/" + (form.dataset.action || "messages"), {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRF-Token": csrf ? csrf.content : "" },
        body: JSON.stringify({ body: text })
      }).then(function (r) {
        if (!r.ok) { errors.textContent = "HTTP " + r.status; return; }
        form.body.value = "";
        var section = form.closest("[data-section]");
        if (section) { delete section.dataset.dirty; }
        refreshSections(0);
      }).catch(function () { errors.textContent = "No connection — please try again."; });
    });
  }

  function operatorDisputes() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.classList.contains("dispute-decision")) { return; }
      event.preventDefault();
      var action = (event.submitter && event.submitter.value) || "reject";
      var reason = form.reason.value.trim(), errors = $(".field-errors", form);
      if (!reason) { errors.textContent = "Give a reason: the driver reads it."; return; }
      var body = { reason: reason };
      if (action === "credit") { action = "accept"; body.reissue = false; }
      if (action === "accept" && form.energy_wh && form.energy_wh.value) { body.energy_wh = parseInt(form.energy_wh.value, 10); }
      var csrf = $('meta[name="csrf-token"]');
      fetch("/api/v1/billing/disputes/" + form.dataset.dispute + "/" + action, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRF-Token": csrf ? csrf.content : "" },
        body: JSON.stringify(body)
      }).then(function (r) {
        if (!r.ok) {
          return r.json().then(function (p) { errors.textContent = p.detail || ("HTTP " + r.status); },
                               function () { errors.textContent = "HTTP " + r.status; });
        }
        var section = form.closest("[data-section]");
        if (section) { delete section.dataset.dirty; }
        refreshSections(0);
      }).catch(function () { errors.textContent = "No connection — please try again."; });
    });
  }

  /* ---------------------------------------------------------------- start */

  function start() {
    if (page !== "driver") { zoneCookie(); }
    if (page === "driver") { driverLive(); feedbackForm(); reportForm(); supportForm(); receiptEmailForm(); return; }
    if (page === "login" || page === "not_found") { return; }
    sessionChartInit();
    stationChartInit();
    fleetPowerInit();
    feedbackChartInit();
    operatorSupport();
    operatorDisputes();
    operatorLive();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
