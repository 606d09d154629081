// The control page of bistlab: the current cycle's tasks and verdicts (read-only, /api/cycle/status
// every 4 s) and the LSTM hyperopt (/api/hyperopt/status every 2 s: the job's progress, best values
// and the epoch metric; the buttons call the same REST API as curl).
// No framework, no build step; the only library is the plotly.js the server ships.
"use strict";
(function () {
  var POLL_MS = 2000;
  var CYCLE_POLL_MS = 4000;
  var lastCycleKey = "";
  var chosenJob = "";        // "" = the latest job
  var lastChartKey = "";

  function $(id) { return document.getElementById(id); }
  function fmt(v, digits) {
    if (v === null || v === undefined) { return "–"; }
    if (typeof v !== "number" || Number.isInteger(v)) { return String(v); }
    return v.toFixed(digits === undefined ? 4 : digits);
  }
  function hours(h) {
    if (h === null || h === undefined) { return "–"; }
    var s = h * 3600;
    return s < 120 ? s.toFixed(1) + " s" : (s < 7200 ? (s / 60).toFixed(1) + " min" : h.toFixed(2) + " h");
  }
  function query() { return chosenJob ? "?job_id=" + encodeURIComponent(chosenJob) : ""; }

  function api(method, path, body) {
    var init = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { ok: r.ok, code: r.status, data: data }; });
    });
  }

  function say(text, bad) { var el = $("message"); el.textContent = text || ""; el.className = bad ? "message bad" : "message"; }

  function renderGroups(s) {
    var metric = (s.config || {}).primary_metric;
    $("best-header").textContent = "best " + (metric || "value") + " so far (penalized)";
    var body = $("groups").tBodies[0];
    body.textContent = "";
    (s.groups_planned || []).forEach(function (g) {
      var done = (s.trials_done || {})[g] || 0, max = s.max_trials_per_group || 1;
      var completed = (s.groups_completed || []).indexOf(g) >= 0;
      var state = completed ? "completed" : (g === s.current_group && s.status === "running" ? "running" : (g === s.current_group ? s.status : ""));
      var tr = document.createElement("tr");
      tr.dataset.group = g;
      var name = document.createElement("td"); name.textContent = g;
      var prog = document.createElement("td");
      var bar = document.createElement("span"); bar.className = "bar";
      var fill = document.createElement("i"); fill.style.width = Math.min(100, 100 * done / max).toFixed(0) + "%";
      bar.appendChild(fill); prog.appendChild(bar); prog.appendChild(document.createTextNode(done + "/" + max));
      var best = document.createElement("td"); best.textContent = fmt((s.best_values || {})[g]);
      var st = document.createElement("td"); st.textContent = state;
      [name, prog, best, st].forEach(function (td) { tr.appendChild(td); });
      body.appendChild(tr);
    });
  }

  function renderStatus(s) {
    $("job-id").textContent = s.job_id || "no job yet";
    $("status").textContent = s.status;
    $("status").className = "badge " + s.status;
    $("mode").textContent = fmt(s.mode);
    $("current-group").textContent = fmt(s.current_group);
    $("current-trial").textContent = fmt(s.current_trial);
    var epochs = (s.config || {}).epochs_per_trial;
    $("current-epoch").textContent = s.current_epoch === null || s.current_epoch === undefined ? "–" : (s.current_epoch + 1) + (epochs ? "/" + epochs : "");
    $("trials-total").textContent = fmt(s.total_trials_done);
    $("device").textContent = fmt(s.device);
    $("estimate").textContent = hours((s.time_estimate || {}).estimated_hours);
    var ref = s.time_estimate_refined || {};
    $("elapsed").textContent = hours(ref.elapsed_hours !== undefined ? ref.elapsed_hours : (s.elapsed_seconds || 0) / 3600);
    $("remaining").textContent = hours(ref.remaining_hours);
    $("total").textContent = hours(ref.estimated_total_hours);
    $("stop-note").hidden = !s.stop_requested;
    $("error").hidden = !s.error;
    $("error").textContent = s.error || "";
    var verdict = $("verdict");
    verdict.hidden = !s.verdict;
    if (s.verdict) {
      verdict.textContent = "Verdict: " + s.verdict.text;
      verdict.className = "banner " + (s.verdict.usable ? "good" : "bad");
    }
    var running = s.status === "running" || s.status === "starting";
    $("stop-btn").disabled = !running;
    $("resume-btn").disabled = !s.resumable;
    $("start-btn").disabled = running;
    var report = $("report-link");
    report.hidden = !s.report_url;
    if (s.report_url) { report.href = s.report_url; }
    renderGroups(s);
  }

  function renderEpochs(e) {
    var key = JSON.stringify(e.trials) + e.group;
    if (key === lastChartKey || typeof window.Plotly === "undefined") { return; }
    lastChartKey = key;
    var traces = (e.trials || []).map(function (t) {
      var dash = { PRUNED: "dot", INTERRUPTED: "dash", RUNNING: "solid" }[t.state] || "solid";
      return { x: t.epoch_values.map(function (_, i) { return i; }), y: t.epoch_values, mode: "lines+markers",
               name: "trial " + t.number + " (" + t.state.toLowerCase() + ")", line: { dash: dash } };
    });
    var metric = e.metric || "metric";
    var title = e.group ? e.group + ": mean validation " + metric + " per epoch (raw, before any penalty)"
      : (e.job_id ? "mean validation " + metric + " per epoch: no trial yet" : "mean validation metric per epoch: no job yet");
    var layout = { margin: { l: 50, r: 20, t: 30, b: 40 }, title: { text: title, font: { size: 13 } },
                   xaxis: { title: { text: "epoch" }, dtick: 1, rangemode: "tozero" }, yaxis: { title: { text: metric } }, template: "plotly_white" };
    window.Plotly.react($("epoch-chart"), traces, layout, { displaylogo: false, responsive: true });
    $("epoch-note").textContent = traces.length ? "" : (e.job_id ? "no trial of this group has finished an epoch yet" : "no hyperopt job yet: start one below");
  }

  function renderJobs(j) {
    var sel = $("job-select"), keep = sel.value;
    var ids = (j.jobs || []).map(function (x) { return x.job_id; });
    var have = Array.prototype.slice.call(sel.options, 1).map(function (o) { return o.value; });
    if (ids.join() === have.join()) { return; }
    while (sel.options.length > 1) { sel.remove(1); }
    ids.slice().reverse().forEach(function (id) { var o = document.createElement("option"); o.value = id; o.textContent = id; sel.appendChild(o); });
    sel.value = ids.indexOf(keep) >= 0 ? keep : "";
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined || text === "" ? "–" : String(text);
    if (cls) { td.className = cls; }
    tr.appendChild(td);
  }

  function renderCycle(c) {
    var key = JSON.stringify(c);
    if (key === lastCycleKey) { return; }
    lastCycleKey = key;
    var none = c.cycle === null || c.cycle === undefined;
    $("cycle-number").textContent = none ? "none yet" : String(c.cycle);
    $("cycle-status").textContent = c.status;
    $("cycle-status").className = "badge " + c.status;
    $("cycle-message").textContent = c.message || "";
    var counts = c.counts || {}, tasks = c.tasks || [];
    $("cycle-counts").textContent = none ? "–" : tasks.length + " (" + Object.keys(counts).map(function (k) { return counts[k] + " " + k; }).join(", ") + ")";
    $("cycle-usable").textContent = none ? "–" : c.usable + " of " + tasks.length;
    $("cycle-final").textContent = none ? "–" : (c.final ? "final" : "so far: the cycle has not ended");
    var body = $("cycle-tasks").tBodies[0];
    body.textContent = "";
    tasks.forEach(function (t) {
      var tr = document.createElement("tr");
      tr.dataset.task = t.key;
      cell(tr, t.key);
      cell(tr, t.status);
      cell(tr, t.holdout_text);
      cell(tr, t.verdict, t.verdict ? "verdict " + t.verdict.replace(/ /g, "-") : "");
      cell(tr, t.error || t.note);
      body.appendChild(tr);
    });
  }

  function pollCycle() {
    return api("GET", "/api/cycle/status")
      .then(function (r) {
        if (r.ok) { renderCycle(r.data); } else { $("cycle-message").textContent = r.data.message || ("cycle status: HTTP " + r.code); }
      })
      .catch(function (err) { $("cycle-message").textContent = "the server does not answer: " + err; })
      .then(function () { window.setTimeout(pollCycle, CYCLE_POLL_MS); });
  }

  function poll() {
    return Promise.all([api("GET", "/api/hyperopt/status" + query()), api("GET", "/api/hyperopt/epochs" + query()), api("GET", "/api/hyperopt/jobs")])
      .then(function (r) {
        if (r[0].ok) { renderStatus(r[0].data); } else { say(r[0].data.message || ("status: HTTP " + r[0].code), true); }
        if (r[1].ok) { renderEpochs(r[1].data); }
        if (r[2].ok) { renderJobs(r[2].data); }
      })
      .catch(function (err) { say("the server does not answer: " + err, true); })
      .then(function () { window.setTimeout(poll, POLL_MS); });
  }

  function act(path, body) {
    return api("POST", path, body).then(function (r) {
      say(r.data.message || (r.ok ? r.data.status : "HTTP " + r.code), !r.ok);
      return r;
    });
  }

  function startBody(form) {
    var body = { mode: form.mode.value, epochs_per_trial: Number(form.epochs_per_trial.value), max_trials_per_group: Number(form.max_trials_per_group.value),
                 convergence_patience: Number(form.convergence_patience.value), seed: Number(form.seed.value), horizon: Number(form.horizon.value) };
    if (form.mode.value === "group") { body.target_group = form.target_group.value; }
    if (form.symbols.value.trim()) { body.symbols = form.symbols.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean); }
    return body;
  }

  function wire() {
    var dash = document.body.dataset.dashboardUrl;
    if (dash) { $("dashboard-link").href = dash; $("dashboard-link").hidden = false; }
    $("stop-btn").addEventListener("click", function () { act("/api/hyperopt/stop", chosenJob ? { job_id: chosenJob } : undefined); });
    $("resume-btn").addEventListener("click", function () { act("/api/hyperopt/resume", chosenJob ? { job_id: chosenJob } : undefined); });
    $("job-select").addEventListener("change", function (ev) { chosenJob = ev.target.value; lastChartKey = ""; });
    var form = $("start-form");
    form.mode.addEventListener("change", function () { form.target_group.disabled = form.mode.value !== "group"; });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      say("starting: loading the data and measuring one epoch…");
      act("/api/hyperopt/start", startBody(form)).then(function (r) { if (r.ok) { chosenJob = ""; $("job-select").value = ""; } });
    });
  }

  wire();
  poll();
  pollCycle();
})();
