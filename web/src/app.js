// fedra dashboard: a small single-page app over the REST API (/api/v1/). The token lives in
// sessionStorage; every value from the API goes into the page as text, never as HTML.
"use strict";

const api = {
  token: () => sessionStorage.getItem("fedra-token") || "",
  async call(method, path, body) {
    const response = await fetch("/api/v1/" + path, {
      method,
      headers: Object.assign({ Authorization: "Bearer " + api.token() },
                             body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.message || response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  },
  get: (path) => api.call("GET", path),
  post: (path, body) => api.call("POST", path, body),
};

// el("td", {class: "x"}, "text", child, ...): an element with attributes and text or children.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const main = () => document.getElementById("main");
const show = (...nodes) => main().replaceChildren(...nodes);

// Navigation can start a new page while an older one still waits on the API; each page renders
// through the `render` it was given, which refuses (and so stops the page) once it is stale.
let generation = 0;
const STALE = Symbol("stale page");
function renderer() {
  const mine = ++generation;
  return (...nodes) => {
    if (mine !== generation) throw STALE;
    show(...nodes);
  };
}
const when = (seconds) => (seconds ? new Date(seconds * 1000).toLocaleString() : "");
const number = (v) => (typeof v === "number" ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : +v.toFixed(4)) : v);
const duration = (info) => (info.start_time && info.end_time ? (info.end_time - info.start_time).toFixed(2) + " s" : "");

let refreshTimer = null;
const charts = [];
function clearPage() {
  clearTimeout(refreshTimer);
  while (charts.length) charts.pop().destroy();
}

// A table whose columns sort when their header is clicked.
function sortableTable(columns, rows) {
  let sortKey = null, ascending = true;
  const body = el("tbody");
  const render = () => {
    const sorted = [...rows];
    if (sortKey !== null) {
      sorted.sort((a, b) => {
        const x = a.values[sortKey], y = b.values[sortKey];
        const order = typeof x === "number" && typeof y === "number" ? x - y : String(x ?? "").localeCompare(String(y ?? ""));
        return ascending ? order : -order;
      });
    }
    body.replaceChildren(...sorted.map((row) => row.node()));
  };
  const head = el("tr", {}, columns.map((c, i) => el("th", {
    "data-sort": i,
    onclick: () => { ascending = sortKey === i ? !ascending : true; sortKey = i; render(); },
  }, c)));
  render();
  return el("table", {}, el("thead", {}, head), body);
}

async function experimentsPage(render) {
  const { experiments } = await api.get("experiments");
  const rows = experiments.map((e) => ({
    values: [e.name, e.runs, e.creation_time],
    node: () => el("tr", {}, el("td", {}, el("a", { href: `#/experiments/${e.experiment_id}` }, e.name)),
                   el("td", {}, e.runs), el("td", {}, when(e.creation_time))),
  }));
  render(el("h1", {}, "Experiments"),
       experiments.length ? sortableTable(["Experiment", "Runs", "Created"], rows)
                          : el("p", {}, "No experiments yet: submit a job."));
}

async function runsPage(render, experimentId) {
  const [{ runs }, { experiments }] = await Promise.all([api.get(`experiments/${experimentId}/runs?limit=1000`),
                                                         api.get("experiments")]);
  const experiment = experiments.find((e) => String(e.experiment_id) === String(experimentId));
  const paramKeys = [...new Set(runs.flatMap((r) => r.data.params.map((p) => p.key)))].slice(0, 4);
  const metricKeys = [...new Set(runs.flatMap((r) => r.data.metrics.map((m) => m.key)))].slice(0, 4);
  const rows = runs.map((r) => {
    const params = Object.fromEntries(r.data.params.map((p) => [p.key, p.value]));
    const metrics = Object.fromEntries(r.data.metrics.map((m) => [m.key, m.value]));
    const seconds = r.info.end_time && r.info.start_time ? r.info.end_time - r.info.start_time : null;
    return {
      values: [r.info.run_id, r.info.run_name, r.info.status, ...paramKeys.map((k) => params[k]),
               ...metricKeys.map((k) => metrics[k]), seconds],
      node: () => el("tr", { "data-run": r.info.run_id },
        el("td", {}, el("a", { href: `#/runs/${r.info.run_id}` }, r.info.run_id)),
        el("td", {}, r.info.run_name),
        el("td", { class: `status-${r.info.status}` }, r.info.status),
        paramKeys.map((k) => el("td", {}, params[k] ?? "")),
        metricKeys.map((k) => el("td", {}, metrics[k] === undefined ? "" : number(metrics[k]))),
        el("td", {}, duration(r.info))),
    };
  });
  render(el("h1", {}, `Runs of ${experiment ? experiment.name : experimentId}`),
       sortableTable(["Run", "Name", "Status", ...paramKeys, ...metricKeys, "Duration"], rows));
  refreshTimer = setTimeout(route, 3000);  // statuses change while jobs run
}

async function runPage(render, runId) {
  const { run } = await api.get(`runs/${runId}`);
  const info = run.info;
  const keys = run.data.metrics.map((m) => m.key).sort();
  const histories = await Promise.all(keys.map((k) => api.get(`runs/${runId}/metrics/${encodeURIComponent(k)}?max_points=500`)));
  const chartBox = el("div", { class: "charts" });
  render(
    el("h1", {}, `Run ${info.run_id}: ${info.run_name}`),
    el("div", { class: "card" },
      el("p", {}, "Status: ", el("strong", { id: "run-status", class: `status-${info.status}` }, info.status),
         ` · experiment ${info.experiment} · submitted by ${info.submitted_by || "?"} · started ${when(info.start_time)}`,
         info.end_time ? ` · took ${duration(info)}` : ""),
      info.error ? el("p", { class: "error" }, info.error) : null),
    el("h2", {}, "Metrics"),
    chartBox,
    ...(run.spec && run.spec.script ? scriptSections(run) : [el("h2", {}, "Job spec"), el("pre", {}, JSON.stringify(run.spec, null, 2))]),
    el("h2", {}, "Result"), el("pre", { id: "run-result" }, JSON.stringify(run.result, null, 2)));
  histories.forEach((h) => {
    if (h.metrics.length < 2) return;  // a final value alone is in the result, not a curve
    const canvas = el("canvas", { "data-metric": h.key });
    const values = h.metrics.map((p) => p.value);
    // Residuals and losses that fall by orders of magnitude read better on a log scale.
    const logScale = Math.min(...values) > 0 && Math.max(...values) / Math.min(...values) > 100;
    chartBox.append(el("div", { class: "chart" }, canvas));
    charts.push(new Chart(canvas, {
      type: "line",
      data: { datasets: [{ label: h.key, data: h.metrics.map((p) => ({ x: p.step, y: p.value })), pointRadius: 2 }] },
      options: { animation: false, maintainAspectRatio: false, parsing: false,
                 scales: { x: { type: "linear", title: { display: true, text: "iteration" } },
                           y: { type: logScale ? "logarithmic" : "linear" } } },
    }));
  });
  if (info.status === "running" || info.status === "scheduled") refreshTimer = setTimeout(route, 2000);
}

// A script run: its script with line numbers (errors name lines), its arguments and what it printed.
function scriptSections(run) {
  const lines = run.spec.script.replace(/\n$/, "").split("\n");
  const width = String(lines.length).length;
  const args = Object.entries(run.spec.args || {});
  const printed = (run.result && run.result.printed) || [];
  return [
    el("h2", {}, "Script"),
    el("pre", { id: "run-script" }, lines.map((l, i) => `${String(i + 1).padStart(width)}  ${l}`).join("\n")),
    el("h2", {}, "Arguments"),
    args.length ? el("ul", { id: "run-args" }, args.map(([k, v]) => el("li", {}, el("code", {}, `$${k}`), ` = ${v}`)))
                : el("p", { class: "muted" }, "none"),
    el("h2", {}, "Printed"),
    el("pre", { id: "run-printed" }, printed.join("\n")),
  ];
}

async function sitesPage(render) {
  const { sites } = await api.get("sites");
  render(el("h1", {}, "Sites"), el("table", {},
    el("thead", {}, el("tr", {}, ["Site", "Status", "Last seen", "Datasets"].map((h) => el("th", {}, h)))),
    el("tbody", {}, sites.map((s) => el("tr", { "data-site": s.name },
      el("td", {}, s.name),
      el("td", { class: s.online ? "online" : "offline" }, s.online ? "online" : "offline", s.error ? ` (${s.error})` : ""),
      el("td", {}, when(s.last_seen)),
      el("td", {}, (s.datasets || []).map((d) => el("div", { "data-dataset": d.name },
        d.error ? el("span", { class: "error" }, `${d.name}: ${d.error}`)
                : `${d.name}: ${d.rows} × ${d.columns.length} (${d.privacy})`,
        (d.warnings || []).map((w) => el("div", { class: "warning" }, `warning: ${w}`))))))))));
}

async function auditPage(render) {
  // Operators only: the audit trail says what was asked of protected data.
  const { sites } = await api.get("audit?limit=200");
  const events = sites.flatMap((s) => (s.events || []).map((e) => Object.assign({ site: s.name }, e)));
  events.sort((a, b) => String(b.time).localeCompare(String(a.time)));
  const unreachable = sites.filter((s) => s.error).map((s) => el("p", { class: "error" }, `${s.name}: ${s.error}`));
  const outcome = (e) => e.outcome || (e.allowed ? "done" : "refused");
  render(el("h1", {}, "Audit"),
       el("p", {}, "What each site recorded about the requests it served, newest first: done, refused by its policy, or failed."),
       unreachable,
       el("table", { id: "audit" },
         el("thead", {}, el("tr", {}, ["Time", "Site", "Peer", "Request", "Dataset", "Outcome", "Bytes out", "Reason"]
           .map((h) => el("th", {}, h)))),
         el("tbody", {}, events.map((e) => el("tr", { class: outcome(e) === "done" ? "" : "refused" },
           el("td", {}, e.time), el("td", {}, e.site), el("td", {}, e.peer), el("td", {}, e.request),
           el("td", {}, e.dataset || ""), el("td", { class: outcome(e) === "done" ? "online" : "offline" }, outcome(e)),
           el("td", {}, e.bytes_out), el("td", {}, e.reason || ""))))));
}

// The job form is built from the master's algorithm registry (GET algorithms): the list, which
// need a label, and each one's parameters with their defaults and documentation.
async function submitPage(render) {
  const { algorithms } = await api.get("algorithms");
  const status = el("p", { role: "status" });
  const select = el("select", { id: "algorithm" }, algorithms.map((a) => el("option", { value: a.name }, a.name)));
  const label = el("input", { id: "label" });
  const params = el("textarea", { id: "params", rows: 8 });
  const help = el("div", { id: "algorithm-help", class: "muted" });
  const chosen = () => algorithms.find((a) => a.name === select.value);
  const bare = (a) => !a.sections.includes("params");  // nn: "model", "optimizer", "ps" at the top level
  const describe = () => {
    const a = chosen();
    label.disabled = a.label === "none";
    label.placeholder = a.label === "none" ? `${a.name} takes no label` : "required";
    const defaults = {};
    for (const p of a.params) if (!p.required) defaults[p.name] = p.default;
    params.value = JSON.stringify(defaults, null, 2);
    help.replaceChildren(el("p", {}, a.summary), el("ul", {}, a.params.map((p) => el("li", {},
      el("code", {}, p.name), ` (${p.type}${p.required ? ", required" : ""}): ${p.doc}`))));
  };
  select.addEventListener("change", describe);
  const form = el("form", { class: "card", id: "submit-form" },
    el("label", { for: "algorithm" }, "Algorithm"), select, help,
    el("label", { for: "experiment" }, "Experiment"), el("input", { id: "experiment", value: "default" }),
    el("label", { for: "dataset" }, "Dataset"), el("input", { id: "dataset", required: "" }),
    el("label", { for: "label" }, "Label column"), label,
    el("label", { for: "features" }, "Feature columns, comma-separated (default: all others)"), el("input", { id: "features" }),
    el("label", { for: "params" }, "Parameters (JSON)"), params,
    el("button", { type: "submit" }, "Submit"), status);
  describe();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (id) => document.getElementById(id).value.trim();
    try {
      const a = chosen();
      const data = { dataset: value("dataset") };
      if (value("label") && a.label !== "none") data.label = value("label");
      if (value("features")) data.features = value("features").split(",").map((f) => f.trim()).filter(Boolean);
      const settings = JSON.parse(value("params") || "{}");
      const spec = { algorithm: a.name, experiment: value("experiment") || "default", data };
      if (bare(a)) Object.assign(spec, settings); else spec.params = settings;
      const { run_id } = await api.post("jobs", spec);
      location.hash = `#/runs/${run_id}`;
    } catch (error) {
      status.className = "error";
      status.textContent = error.message;
    }
  });
  render(el("h1", {}, "Submit a job"), form);
}

// A script (analyses/ has examples) with its $-arguments, NAME=VALUE per line. Syntax errors come
// back at once with a caret under the spot, shown as the master wrote them.
async function scriptPage(render) {
  const status = el("pre", { role: "status", id: "script-status" });
  const form = el("form", { class: "card", id: "script-form" },
    el("label", { for: "script" }, "Script"),
    el("textarea", { id: "script", rows: 16, spellcheck: "false", required: "",
                     placeholder: 'X = read($data)\nprint(colMeans(X))' }),
    el("label", { for: "args" }, "Arguments, NAME=VALUE per line ($1 for 1=...)"),
    el("textarea", { id: "args", rows: 3, spellcheck: "false", placeholder: "data=sensors:pressure,load" }),
    el("label", { for: "script-name" }, "Name"), el("input", { id: "script-name" }),
    el("label", { for: "script-experiment" }, "Experiment"), el("input", { id: "script-experiment", value: "default" }),
    el("button", { type: "submit" }, "Run"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (id) => document.getElementById(id).value;
    const args = {};
    for (const line of value("args").split("\n").map((l) => l.trim()).filter(Boolean)) {
      const eq = line.indexOf("=");
      if (eq <= 0) {
        status.className = "error";
        status.textContent = `an argument is NAME=VALUE, not "${line}"`;
        return;
      }
      args[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
    const spec = { script: value("script"), args, experiment: value("script-experiment").trim() || "default" };
    if (value("script-name").trim()) spec.name = value("script-name").trim();
    try {
      const { run_id } = await api.post("jobs", spec);
      location.hash = `#/runs/${run_id}`;
    } catch (error) {
      status.className = "error";
      status.textContent = error.message;
    }
  });
  render(el("h1", {}, "Run a script"), form);
}

function loginPage(message) {
  document.getElementById("nav").hidden = true;
  show(document.getElementById("login-template").content.cloneNode(true));
  if (message) document.getElementById("login-error").textContent = message;
  document.getElementById("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    sessionStorage.setItem("fedra-token", document.getElementById("token").value.trim());
    route();
  });
}

async function route() {
  clearPage();
  const render = renderer();
  if (!api.token()) return loginPage();
  const path = location.hash.replace(/^#\/?/, "").split("/");
  try {
    const health = await api.get("health");
    document.getElementById("nav").hidden = false;
    document.getElementById("who").textContent = `signed in as ${health.principal}`;
    if (path[0] === "experiments" && path[1]) await runsPage(render, path[1]);
    else if (path[0] === "runs" && path[1]) await runPage(render, path[1]);
    else if (path[0] === "sites") await sitesPage(render);
    else if (path[0] === "audit") await auditPage(render);
    else if (path[0] === "submit") await submitPage(render);
    else if (path[0] === "script") await scriptPage(render);
    else await experimentsPage(render);
  } catch (error) {
    if (error === STALE) return;
    if (error.status === 401) {
      sessionStorage.removeItem("fedra-token");
      return loginPage(error.message);
    }
    try {
      render(el("p", { class: "error", role: "alert" }, error.message));
    } catch (stale) { /* a newer page is showing */ }
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", () => {
    sessionStorage.removeItem("fedra-token");
    location.hash = "";
    route();
  });
  route();
});
