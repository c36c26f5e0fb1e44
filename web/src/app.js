// fedra dashboard: a small single-page app over the REST API (/api/v1/), an experiment tracker
// for federated jobs. The token lives in sessionStorage, the runs table's column choice in
// localStorage; every value from the API goes into the page as text, never as HTML.
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
  // Saves what `path` serves as a file: downloads need the bearer token, so no plain link.
  async download(path, filename) {
    const response = await fetch("/api/v1/" + path, { headers: { Authorization: "Bearer " + api.token() } });
    if (!response.ok) throw new Error((await response.json().catch(() => ({}))).message || response.statusText);
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  },
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
  const render = (...nodes) => {
    if (mine !== generation) throw STALE;
    show(...nodes);
  };
  render.current = () => mine === generation;  // live updates stop once another page shows
  return render;
}
const when = (seconds) => (seconds ? new Date(seconds * 1000).toLocaleString() : "");
const number = (v) => (typeof v === "number" ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : +v.toFixed(4)) : v);
const mib = (bytes) => (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0);
const duration = (info) => (info.start_time && info.end_time ? (info.end_time - info.start_time).toFixed(2) + " s" : "");

let refreshTimer = null;
const charts = [];
function clearPage() {
  clearTimeout(refreshTimer);
  while (charts.length) charts.pop().destroy();
}

// A table whose columns sort when their header is clicked. `update(rows)` replaces the rows and
// keeps the sort, so live updates patch the table rather than rebuild the page.
function sortableTable(columns, rows) {
  let sortKey = null, ascending = true;
  const body = el("tbody");
  const render = () => {
    const sorted = [...rows];
    if (sortKey !== null) {
      sorted.sort((a, b) => {
        const x = a.values[sortKey], y = b.values[sortKey];
        const order = typeof x === "number" && typeof y === "number" ? x - y
          : String(x ?? "").localeCompare(String(y ?? ""), undefined, { numeric: true });
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
  const table = el("table", {}, el("thead", {}, head), body);
  table.update = (newRows) => { rows = newRows; render(); };
  return table;
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

const keyValues = (list) => Object.fromEntries(list.map((kv) => [kv.key, kv.value]));

// The columns a runs table shows by default: every metric, and the params whose values differ.
function defaultColumns(runs) {
  const metrics = [...new Set(runs.flatMap((r) => r.data.metrics.map((m) => m.key)))].sort().slice(0, 8);
  const params = [...new Set(runs.flatMap((r) => r.data.params.map((p) => p.key)))].sort()
    .filter((k) => new Set(runs.map((r) => keyValues(r.data.params)[k])).size > 1).slice(0, 6);
  return [...params.map((k) => "param:" + k), ...metrics.map((k) => "metric:" + k)];
}

// An experiment's runs: columns chosen from every run's params and metrics (remembered per
// experiment), a filter, selection for comparison; every few seconds the rows are fetched again
// and the table patched, keeping sort, filter and selection.
async function runsPage(render, experimentId) {
  const [{ runs: first }, { experiments }] = await Promise.all([api.get(`experiments/${experimentId}/runs?limit=1000`),
                                                                api.get("experiments")]);
  const experiment = experiments.find((e) => String(e.experiment_id) === String(experimentId));
  const stored = `fedra-columns-${experimentId}`;
  let columns = JSON.parse(localStorage.getItem(stored) || "null") || defaultColumns(first);
  const selected = new Set();
  let runs = first, updates = 0;
  const filter = el("input", { id: "run-filter", type: "search", placeholder: "filter: name, status, param value, id" });
  const compare = el("button", { id: "compare", type: "button", disabled: "" }, "Compare selected");
  const picker = el("details", { id: "columns" }, el("summary", {}, "Columns"));
  const holder = el("div");
  let table = null;

  const matches = (r) => {
    const text = filter.value.trim().toLowerCase();
    if (!text) return true;
    const fields = [r.info.run_id, r.info.run_name, r.info.status, ...r.data.params.map((p) => `${p.key}=${p.value}`)];
    return fields.some((f) => String(f).toLowerCase().includes(text));
  };
  const rowsOf = () => runs.filter(matches).map((r) => {
    const params = keyValues(r.data.params), metrics = keyValues(r.data.metrics);
    const value = (c) => (c.startsWith("param:") ? params[c.slice(6)] : metrics[c.slice(7)]);
    const seconds = r.info.end_time && r.info.start_time ? r.info.end_time - r.info.start_time : null;
    return {
      values: [null, r.info.run_id, r.info.run_name, r.info.status, ...columns.map(value), seconds],
      node: () => el("tr", { "data-run": r.info.run_id },
        el("td", {}, el("input", { type: "checkbox", "aria-label": `select run ${r.info.run_id}`,
                                   ...(selected.has(r.info.run_id) ? { checked: "" } : {}),
                                   onchange: (e) => { e.target.checked ? selected.add(r.info.run_id) : selected.delete(r.info.run_id);
                                                      compare.disabled = selected.size < 2; } })),
        el("td", {}, el("a", { href: `#/runs/${r.info.run_id}` }, r.info.run_id)),
        el("td", {}, r.info.run_name),
        el("td", { class: `status-${r.info.status}` }, r.info.status),
        columns.map((c) => { const v = value(c); return el("td", {}, v === undefined ? "" : c.startsWith("metric:") ? number(v) : v); }),
        el("td", {}, duration(r.info))),
    };
  });
  const build = () => {
    const names = columns.map((c) => c.replace(/^(param|metric):/, ""));
    table = sortableTable(["", "Run", "Name", "Status", ...names, "Duration"], rowsOf());
    table.id = "runs";
    holder.replaceChildren(table);
  };
  const buildPicker = () => {
    const all = [...new Set(runs.flatMap((r) => [...r.data.params.map((p) => "param:" + p.key),
                                                 ...r.data.metrics.map((m) => "metric:" + m.key)]))].sort();
    picker.replaceChildren(picker.firstChild, el("div", { class: "picker" }, all.map((c) => el("label", {},
      el("input", { type: "checkbox", value: c, ...(columns.includes(c) ? { checked: "" } : {}),
                    onchange: (e) => {
                      columns = e.target.checked ? [...columns, c] : columns.filter((x) => x !== c);
                      localStorage.setItem(stored, JSON.stringify(columns));
                      build();
                    } }),
      " ", c.replace(":", " ")))));
  };
  filter.addEventListener("input", () => table.update(rowsOf()));
  compare.addEventListener("click", () => { location.hash = `#/compare/${[...selected].join(",")}`; });
  buildPicker();
  build();
  render(el("h1", {}, `Runs of ${experiment ? experiment.name : experimentId}`),
         el("div", { class: "toolbar" }, filter, compare, picker), holder);
  const refresh = async () => {
    try {
      const fresh = (await api.get(`experiments/${experimentId}/runs?limit=1000`)).runs;
      if (!render.current()) return;
      runs = fresh;
      if (!picker.open) buildPicker();  // keys logged since; not while someone is picking
      table.update(rowsOf());
      table.dataset.updates = ++updates;
    } catch (error) { /* the next refresh tries again */ }
    if (render.current()) refreshTimer = setTimeout(refresh, 3000);  // statuses change while jobs run
  };
  refreshTimer = setTimeout(refresh, 3000);
}

// Selected runs side by side: params as a table (differences marked), each metric's curves overlaid.
async function comparePage(render, ids) {
  const runs = (await Promise.all(ids.map((id) => api.get(`runs/${id}`)))).map((r) => r.run);
  const params = [...new Set(runs.flatMap((r) => r.data.params.map((p) => p.key)))].sort();
  const values = runs.map((r) => keyValues(r.data.params));
  const keys = [...new Set(runs.flatMap((r) => r.data.metrics.map((m) => m.key)))].sort();
  const chartBox = el("div", { class: "charts" });
  render(el("h1", {}, `Comparing runs ${ids.join(", ")}`),
    el("h2", {}, "Parameters"),
    el("table", { id: "compare-params" },
      el("thead", {}, el("tr", {}, el("th", {}, "Parameter"), runs.map((r) => el("th", {}, `${r.info.run_id}: ${r.info.run_name}`)))),
      el("tbody", {}, params.map((k) => el("tr", { class: new Set(values.map((v) => v[k])).size > 1 ? "differs" : "" },
        el("td", {}, k), values.map((v) => el("td", {}, v[k] ?? "")))))),
    el("h2", {}, "Metrics"), chartBox);
  for (const key of keys) {
    const histories = await Promise.all(runs.map((r) =>
      api.get(`runs/${r.info.run_id}/metrics/${encodeURIComponent(key)}?max_points=500`).catch(() => ({ metrics: [] }))));
    if (histories.every((h) => h.metrics.length < 2)) continue;
    const canvas = el("canvas", { "data-metric": key });
    chartBox.append(el("div", { class: "chart" }, canvas));
    charts.push(new Chart(canvas, {
      type: "line",
      data: { datasets: histories.map((h, i) => ({ label: `${key} · run ${runs[i].info.run_id}`,
                                                   data: h.metrics.map((p) => ({ x: p.step, y: p.value })), pointRadius: 1 })) },
      options: { animation: false, maintainAspectRatio: false, parsing: false,
                 scales: { x: { type: "linear", title: { display: true, text: "step" } } } },
    }));
  }
}

// How far a running job is: its latest step of its planned rounds or iterations, the time left
// at the pace so far, and its long transfers (tags fedra.transfer.<site>, set as they go).
function progress(run) {
  const params = keyValues(run.data.params);
  const planned = Number(params["ps.epochs"] || params["max_iterations"] || 0);
  const done = Math.max(0, ...run.data.metrics.map((m) => m.step));
  const transfers = run.data.tags.filter((t) => t.key.startsWith("fedra.transfer."))
    .map((t) => `site ${t.key.slice("fedra.transfer.".length)}: ${t.value}`);
  let steps = "";
  if (planned && done && run.info.start_time) {
    const elapsed = Date.now() / 1000 - run.info.start_time;
    const left = (elapsed / done) * Math.max(0, planned - done);
    const unit = params["ps.epochs"] ? "round" : "iteration";
    steps = `${unit} ${done} of ${planned} · about ${left < 90 ? Math.round(left) + " s" : Math.round(left / 60) + " min"} left`;
  } else if (run.info.status === "scheduled") {
    steps = "waiting for its turn";
  }
  return [steps, ...transfers].filter(Boolean).join(" · ");
}

// What a fitted model is made of, as tables: coefficients, centres, components.
function resultTables(result) {
  if (!result) return [];
  const out = [];
  if (Array.isArray(result.coefficients) && result.coefficients.length && typeof result.coefficients[0] === "object") {
    const fields = Object.keys(result.coefficients[0]).filter((k) => k !== "name");
    out.push(el("h2", {}, "Coefficients"), el("table", { id: "coefficients" },
      el("thead", {}, el("tr", {}, el("th", {}, "name"), fields.map((f) => el("th", {}, f)))),
      el("tbody", {}, result.coefficients.map((c) => el("tr", {}, el("td", {}, c.name), fields.map((f) => el("td", {}, number(c[f]))))))));
  }
  const matrix = (title, id, rows, columns, rowName) => [el("h2", {}, title), el("table", { id },
    el("thead", {}, el("tr", {}, el("th", {}, ""), columns.map((c) => el("th", {}, c)))),
    el("tbody", {}, rows.map((row, i) => el("tr", {}, el("td", {}, rowName(i)), row.map((v) => el("td", {}, number(v)))))))];
  if (Array.isArray(result.centers) && Array.isArray(result.columns)) {
    out.push(...matrix("Centres", "centers", result.centers, result.columns,
                       (i) => `cluster ${i + 1}${result.sizes ? ` (${result.sizes[i]} rows)` : ""}`));
  }
  if (Array.isArray(result.components) && Array.isArray(result.columns)) {
    out.push(...matrix("Components", "components", result.components, result.columns, (i) => `PC${i + 1}`));
  }
  return out;
}

// The run's saved models, each as JSON and as ONNX.
async function modelSection(runId) {
  const { models } = await api.get(`runs/${runId}/models`);
  if (!models.length) return [];
  const status = el("span", { class: "error", role: "status" });
  const get = (name, format) => async () => {
    try {
      await api.download(`runs/${runId}/models/${encodeURIComponent(name)}?format=${format}`, `run-${runId}-${name}.${format}`);
    } catch (error) { status.textContent = error.message; }
  };
  return [el("h2", {}, "Models"), el("ul", { id: "models" }, models.map((m) => el("li", {},
    `${m.name} (version ${m.version}, ${m.bytes} bytes) `,
    el("button", { type: "button", "data-download": "json", onclick: get(m.name, "json") }, "JSON"), " ",
    el("button", { type: "button", "data-download": "onnx", onclick: get(m.name, "onnx") }, "ONNX")))), status];
}

async function runPage(render, runId) {
  let { run } = await api.get(`runs/${runId}`);
  const info = run.info;
  const active = (r) => r.info.status === "running" || r.info.status === "scheduled";
  const status = el("strong", { id: "run-status", class: `status-${info.status}` }, info.status);
  const progressLine = el("p", { id: "run-progress" }, active(run) ? progress(run) : "");
  const cancelStatus = el("span", { id: "cancel-status", role: "status" });
  const cancel = el("button", { id: "cancel", type: "button" }, "Cancel");
  cancel.addEventListener("click", async () => {
    try {
      await api.post(`jobs/${runId}/cancel`, {});
      cancelStatus.textContent = " cancel requested: it stops at its next round or iteration";
      cancel.disabled = true;
    } catch (error) { cancelStatus.className = "error"; cancelStatus.textContent = " " + error.message; }
  });
  const chartBox = el("div", { class: "charts" });
  const byKey = new Map();  // metric -> its chart
  const drawHistories = async () => {
    const keys = run.data.metrics.map((m) => m.key).sort();
    const histories = await Promise.all(keys.map((k) => api.get(`runs/${runId}/metrics/${encodeURIComponent(k)}?max_points=500`)));
    for (const h of histories) {
      if (h.metrics.length < 2) continue;  // a final value alone is in the result, not a curve
      const points = h.metrics.map((p) => ({ x: p.step, y: p.value }));
      const known = byKey.get(h.key);
      if (known) {  // new points go onto the chart drawn already
        known.data.datasets[0].data = points;
        known.update("none");
        continue;
      }
      const canvas = el("canvas", { "data-metric": h.key });
      const values = points.map((p) => p.y);
      // Residuals and losses that fall by orders of magnitude read better on a log scale.
      const logScale = Math.min(...values) > 0 && Math.max(...values) / Math.min(...values) > 100;
      chartBox.append(el("div", { class: "chart" }, canvas));
      const chart = new Chart(canvas, {
        type: "line",
        data: { datasets: [{ label: h.key, data: points, pointRadius: 2 }] },
        options: { animation: false, maintainAspectRatio: false, parsing: false,
                   scales: { x: { type: "linear", title: { display: true, text: "iteration" } },
                             y: { type: logScale ? "logarithmic" : "linear" } } },
      });
      charts.push(chart);
      byKey.set(h.key, chart);
    }
  };
  render(
    el("h1", {}, `Run ${info.run_id}: ${info.run_name}`),
    el("div", { class: "card" },
      el("p", {}, "Status: ", status,
         ` · experiment ${info.experiment} · submitted by ${info.submitted_by || "?"} · started ${when(info.start_time)}`,
         info.end_time ? ` · took ${duration(info)}` : ""),
      progressLine, active(run) && info.job ? el("p", {}, cancel, cancelStatus) : null,
      info.error ? el("p", { class: "error" }, info.error) : null),
    el("h2", {}, "Metrics"),
    chartBox,
    ...resultTables(run.result),
    ...(active(run) ? [] : await modelSection(runId)),
    ...(run.spec && run.spec.script ? scriptSections(run) : [el("h2", {}, "Job spec"), el("pre", {}, JSON.stringify(run.spec, null, 2))]),
    el("h2", {}, "Result"), el("pre", { id: "run-result" }, JSON.stringify(run.result, null, 2)));
  await drawHistories();
  // While it runs: patch status, progress and charts; once it ends, draw the whole page again.
  const follow = async () => {
    try {
      run = (await api.get(`runs/${runId}`)).run;
      if (!render.current()) return;
      if (!active(run)) return route();
      status.textContent = run.info.status;
      status.className = `status-${run.info.status}`;
      progressLine.textContent = progress(run);
      await drawHistories();
    } catch (error) { /* the next look tries again */ }
    if (render.current()) refreshTimer = setTimeout(follow, 2000);
  };
  if (active(run)) refreshTimer = setTimeout(follow, 2000);
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
    el("thead", {}, el("tr", {}, ["Site", "Status", "Last seen", "Trains on", "Memory", "Version", "Datasets"].map((h) => el("th", {}, h)))),
    el("tbody", {}, sites.map((s) => el("tr", { "data-site": s.name },
      el("td", {}, s.name),
      el("td", { class: s.online ? "online" : "offline" }, s.online ? "online" : "offline", s.error ? ` (${s.error})` : ""),
      el("td", {}, when(s.last_seen)),
      el("td", {}, s.gpu ? "GPU" : "CPU"),
      el("td", { class: "memory" }, s.memory_budget_bytes ? `${mib(s.memory_used_bytes)} of ${mib(s.memory_budget_bytes)} MiB` : ""),
      el("td", { class: "version" }, s.version || ""),
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
// need a label, and each one's parameters with their defaults and documentation; datasets and
// their columns come from the sites' catalogs (GET sites).
async function submitPage(render) {
  const [{ algorithms }, { sites }] = await Promise.all([api.get("algorithms"), api.get("sites")]);
  const catalog = new Map();  // dataset -> {columns, rows, privacy, sites}
  for (const site of sites) {
    for (const d of site.datasets || []) {
      if (d.error) continue;
      const known = catalog.get(d.name) || { columns: d.columns, rows: 0, privacy: d.privacy, sites: 0 };
      known.rows += d.rows || 0;
      known.sites += 1;
      catalog.set(d.name, known);
    }
  }
  const status = el("p", { role: "status" });
  const select = el("select", { id: "algorithm" }, algorithms.map((a) => el("option", { value: a.name }, a.name)));
  const dataset = el("select", { id: "dataset", required: "" }, [...catalog.keys()].sort().map((name) => {
    const d = catalog.get(name);
    return el("option", { value: name }, `${name} (${d.rows} rows at ${d.sites} site${d.sites > 1 ? "s" : ""}, ${d.privacy})`);
  }));
  const label = el("select", { id: "label" });
  const features = el("div", { id: "features", class: "picker" });
  const params = el("textarea", { id: "params", rows: 8 });
  const help = el("div", { id: "algorithm-help", class: "muted" });
  const chosen = () => algorithms.find((a) => a.name === select.value);
  const bare = (a) => !a.sections.includes("params");  // nn: "model", "optimizer", "ps" at the top level
  const columns = () => (catalog.get(dataset.value) || { columns: [] }).columns;
  const pickColumns = () => {
    const noLabel = chosen().label === "none";
    label.disabled = noLabel;
    label.replaceChildren(el("option", { value: "" }, noLabel ? `${chosen().name} takes no label` : "choose the label"),
                          ...columns().map((c) => el("option", { value: c }, c)));
    features.replaceChildren(...columns().map((c) => el("label", {}, el("input", { type: "checkbox", value: c }), " ", c)));
  };
  const describe = () => {
    const a = chosen();
    const defaults = {};
    for (const p of a.params) if (!p.required) defaults[p.name] = p.default;
    params.value = JSON.stringify(defaults, null, 2);
    help.replaceChildren(el("p", {}, a.summary), el("ul", {}, a.params.map((p) => el("li", {},
      el("code", {}, p.name), ` (${p.type}${p.required ? ", required" : ""}): ${p.doc}`))));
    pickColumns();
  };
  select.addEventListener("change", describe);
  dataset.addEventListener("change", pickColumns);
  const form = el("form", { class: "card", id: "submit-form" },
    el("label", { for: "algorithm" }, "Algorithm"), select, help,
    el("label", { for: "experiment" }, "Experiment"), el("input", { id: "experiment", value: "default" }),
    el("label", { for: "dataset" }, "Dataset"), dataset,
    el("label", { for: "label" }, "Label column"), label,
    el("label", {}, "Feature columns (none ticked: every other column)"), features,
    el("label", { for: "params" }, "Parameters (JSON)"), params,
    el("button", { type: "submit" }, "Submit"), status);
  describe();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const a = chosen();
      const data = { dataset: dataset.value };
      if (label.value && a.label !== "none") data.label = label.value;
      const ticked = [...features.querySelectorAll("input:checked")].map((c) => c.value);
      if (ticked.length) data.features = ticked;
      const settings = JSON.parse(params.value.trim() || "{}");
      const spec = { algorithm: a.name, experiment: document.getElementById("experiment").value.trim() || "default", data };
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
    else if (path[0] === "compare" && path[1]) await comparePage(render, path[1].split(",").filter(Boolean));
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
