// Drives the dashboard in headless Chromium (Debian's, through playwright-core): log in with a
// viewer token; in the runs table pick columns (remembered), filter, and keep the sort across a
// live update; compare two runs; open a finished run (its chart, coefficients table, model
// downloads); see the audit trail refused. Then as an operator: follow a running job's progress
// and cancel it, read the audit trail, submit a job through the form's pickers and see its run
// appear, and run a script; the header fits a 420-pixel screen. Saves screenshots.
//
//   node dashboard_test.mjs CONFIG.json
//   CONFIG: {url, viewer_token, operator_token, spki, chromium, node_modules, screenshot,
//            experiment, run_id, second_run, long_run, metric, points, dataset, label}
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const require = createRequire(config.node_modules + "/");
const { chromium } = require("playwright-core");

function check(condition, message) {
  if (!condition) throw new Error("check failed: " + message);
  console.log("ok - " + message);
}

// Trust exactly the master's key, as a pinned client would; no other certificate errors pass.
const browser = await chromium.launch({
  executablePath: config.chromium,
  args: [`--ignore-certificate-errors-spki-list=${config.spki}`, "--no-sandbox"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));

  async function login(token) {
    await page.goto(config.url + "/#/experiments");
    await page.fill("#token", token);
    await page.click("#login button[type=submit]");
    await page.waitForSelector("#who:has-text('signed in as')");
  }

  // A wrong token is refused on the page.
  await page.goto(config.url + "/");
  await page.fill("#token", "not-a-token");
  await page.click("#login button[type=submit]");
  await page.waitForSelector("#login-error:has-text('unknown token')");
  check(true, "a wrong token is refused");

  await login(config.viewer_token);
  await page.click(`a:has-text("${config.experiment}")`);
  await page.waitForSelector(`tr[data-run="${config.run_id}"]`);
  check((await page.textContent(`tr[data-run="${config.run_id}"]`)).includes("finished"), "the runs table shows the finished run");

  // Sorting by the Run column, twice, reverses the order; the order survives a live update.
  const firstRun = async () => page.getAttribute("#runs tbody tr:first-child", "data-run");
  await page.click("#runs th:text-is('Run')");
  const ascending = await firstRun();
  check(ascending === String(config.run_id), "sorted up, the first run comes first");
  await page.click("#runs th:text-is('Run')");
  check((await firstRun()) === String(config.second_run), "sorted down, the second run comes first");
  const updates = Number((await page.getAttribute("#runs", "data-updates")) || 0);
  await page.waitForSelector(`#runs[data-updates="${updates + 1}"]`);
  check((await firstRun()) === String(config.second_run), "a live update keeps the sort");

  // The runs differ in lambda: that column is shown by default; a metric column is picked, and
  // the choice outlives a reload.
  check((await page.textContent("#runs thead")).includes("lambda"), "the column of the param that differs is shown");
  await page.click("#columns summary");
  await page.uncheck('#columns input[value="param:lambda"]');
  check(!(await page.textContent("#runs thead")).includes("lambda"), "unticking a column hides it");
  await page.reload();
  await page.waitForSelector(`tr[data-run="${config.run_id}"]`);
  check(!(await page.textContent("#runs thead")).includes("lambda"), "the column choice is remembered");
  await page.click("#columns summary");
  await page.check('#columns input[value="param:lambda"]');

  // The filter keeps the matching rows.
  await page.fill("#run-filter", "lambda=5");
  check((await page.locator("#runs tbody tr").count()) === 1, "the filter keeps the run with lambda 5");
  await page.fill("#run-filter", "");

  // Two runs compared: params side by side (lambda marked as differing), curves overlaid.
  await page.check(`tr[data-run="${config.run_id}"] input[type=checkbox]`);
  await page.check(`tr[data-run="${config.second_run}"] input[type=checkbox]`);
  await page.click("#compare");
  await page.waitForSelector(`canvas[data-metric="${config.metric}"]`);
  check((await page.textContent("#compare-params tr.differs")).includes("lambda"), "compare marks the differing lambda");
  const overlaid = await page.evaluate((metric) =>
    Chart.getChart(document.querySelector(`canvas[data-metric="${metric}"]`)).data.datasets.length, config.metric);
  check(overlaid === 2, `compare overlays both runs' ${config.metric} (${overlaid} curves)`);

  await page.goto(`${config.url}/#/runs/${config.run_id}`);
  await page.waitForSelector(`h1:has-text("Run ${config.run_id}:")`);
  await page.waitForSelector(`canvas[data-metric="${config.metric}"]`);
  const points = await page.evaluate((metric) => {
    const canvas = document.querySelector(`canvas[data-metric="${metric}"]`);
    return Chart.getChart(canvas).data.datasets[0].data.length;
  }, config.metric);
  check(points === config.points, `the ${config.metric} chart has the run's ${config.points} points (got ${points})`);
  check((await page.locator("#coefficients tbody tr").count()) === 3, "the coefficients are a table: intercept, u, v");
  const [json] = await Promise.all([page.waitForEvent("download"), page.click("#models button[data-download=json]")]);
  const saved = JSON.parse(readFileSync(await json.path(), "utf8"));
  check(saved.format === "fedra-model" && saved.run_id === config.run_id, `the model downloads as ${json.suggestedFilename()}`);
  const [onnx] = await Promise.all([page.waitForEvent("download"), page.click("#models button[data-download=onnx]")]);
  check(statSync(await onnx.path()).size > 100, `the model downloads as ONNX, ${onnx.suggestedFilename()}`);
  await page.screenshot({ path: config.screenshot, fullPage: true });

  // A viewer sees the sites, with privacy levels.
  await page.goto(config.url + "/#/sites");
  await page.waitForSelector("tr[data-site] td.online");
  check((await page.textContent("main")).includes("private-aggregate"), "the sites page shows datasets and privacy levels");
  check((await page.textContent("tr[data-site]")).includes("CPU"), "the sites page says where each site trains");
  check(/MiB/.test(await page.textContent("tr[data-site] td.memory")), "the sites page shows each site's memory use and budget");
  check(/^\d+\.\d+\.\d+$/.test(await page.textContent("tr[data-site] td.version")), "the sites page shows each site's version");
  const exportWarning = await page.textContent("div[data-dataset=export] .warning");
  check(exportWarning.includes("is that the delimiter?"), "a dataset read as one column shows the delimiter hint");
  const gone = await page.textContent("div[data-dataset=gone] .error");
  check(gone.includes("gone"), `a dataset that cannot be read shows its error, and the page still renders (${gone})`);

  // The audit trail is for operators: a viewer is told so.
  await page.goto(config.url + "/#/audit");
  await page.waitForSelector("p[role=alert]:has-text('operator token')");
  check(true, "a viewer is refused the audit trail");

  // An operator follows a running job (its progress and time left) and cancels it.
  await page.click("#logout");
  await login(config.operator_token);
  await page.goto(`${config.url}/#/runs/${config.long_run}`);
  await page.waitForSelector("#run-progress:has-text('of 100000')", { timeout: 60000 });
  check((await page.textContent("#run-progress")).includes("left"), `a running job shows ${await page.textContent("#run-progress")}`);
  await page.click("#cancel");
  await page.waitForSelector("#cancel-status:not(:empty)");
  console.log("   " + (await page.textContent("#cancel-status")));
  await page.waitForSelector("#run-status:has-text('cancelled')", { timeout: 60000 });
  check(true, "the Cancel button stops the job");

  // An operator sees what the sites recorded, the long job's steps the newest among them.
  await page.goto(config.url + "/#/audit");
  await page.waitForSelector("#audit tbody tr");
  const audit = await page.textContent("#audit");
  check(audit.includes("call kmeansStep"), "the audit view lists the sites' newest events, the long job's steps");

  // An operator submits a job through the form and lands on its run.
  await page.goto(config.url + "/#/submit");
  // The form lists every algorithm the master knows, nn included, with its parameters.
  await page.waitForSelector("#algorithm option[value=nn]", { state: "attached" });
  const offered = await page.$$eval("#algorithm option", (options) => options.map((o) => o.value));
  check(["lm", "lmCG", "logreg", "kmeans", "pca", "nn"].every((a) => offered.includes(a)), `the form offers ${offered}`);
  await page.selectOption("#algorithm", "kmeans");
  check(await page.isDisabled("#label"), "kmeans takes no label");
  const datasets = await page.$$eval("#dataset option", (options) => options.map((o) => o.value));
  check(datasets.includes(config.dataset), `the dataset picker lists the sites' datasets (${datasets})`);
  check((await page.textContent("#algorithm-help")).includes("required"), "kmeans's k is shown as required");
  await page.selectOption("#algorithm", "lm");
  check(JSON.parse(await page.inputValue("#params")).lambda === 0, "lm's parameters start at their defaults");
  await page.fill("#experiment", config.experiment);
  await page.selectOption("#dataset", config.dataset);
  await page.selectOption("#label", config.label);
  await page.check('#features input[value="u"]');
  await page.check('#features input[value="v"]');
  await page.fill("#params", '{"lambda": 0.5}');
  await page.click("#submit-form button[type=submit]");
  await page.waitForURL(/#\/runs\/\d+$/);
  const newRun = page.url().split("/").pop();
  check(Number(newRun) > config.run_id, `the submitted job became run ${newRun}`);
  await page.waitForSelector("#run-status:has-text('finished')", { timeout: 60000 });
  await page.goto(config.url + "/#/experiments");
  await page.click(`a:has-text("${config.experiment}")`);
  await page.waitForSelector(`tr[data-run="${newRun}"]`);
  check(true, "the new run appears in its experiment's runs table");

  // An operator runs a script: a syntax error comes back with its caret; a good one becomes a
  // run that shows its script, arguments and what it printed.
  await page.goto(config.url + "/#/script");
  await page.waitForSelector("#script-form");
  await page.fill("#script", "X = read($data)\nn = (nrow(X) +\n");
  await page.fill("#args", `data=${config.dataset}`);
  await page.click("#script-form button[type=submit]");
  await page.waitForSelector("#script-status.error");
  check((await page.textContent("#script-status")).includes("^"), "a syntax error shows a caret under the spot");
  await page.fill("#script", 'X = read($data)\nprint("columns: " + ncol(X))\nlog_metric("rows", nrow(X))\n');
  await page.fill("#script-name", "columns");
  await page.fill("#script-experiment", config.experiment);
  await page.click("#script-form button[type=submit]");
  await page.waitForURL(/#\/runs\/\d+$/);
  await page.waitForSelector("#run-status:has-text('finished')", { timeout: 60000 });
  check((await page.textContent("#run-script")).includes("1  X = read($data)"), "the run shows its numbered script");
  check((await page.textContent("#run-args")).includes(config.dataset), "the run shows its arguments");
  check((await page.textContent("#run-printed")).startsWith("columns: "), "the run shows what the script printed");

  // On a phone-sized screen the header wraps instead of pushing Log out off the page.
  await page.setViewportSize({ width: 420, height: 800 });
  const logout = await page.locator("#logout").boundingBox();
  check(logout.x + logout.width <= 420, `Log out is on screen at 420 px (right edge ${logout.x + logout.width})`);
  await page.screenshot({ path: config.screenshot.replace(/\.png$/, "-narrow.png") });
  check(errors.length === 0, "no script errors: " + errors.join("; "));
} finally {
  await browser.close();
}
