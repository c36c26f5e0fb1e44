// Drives the dashboard in headless Chromium (Debian's, through playwright-core): log in with a
// viewer token, open a finished run and check that its chart holds the run's points and that the
// audit trail is refused, then log in as an operator, read the audit trail, submit a job through
// the form and see its run appear, and run a script. Saves a screenshot.
//
//   node dashboard_test.mjs CONFIG.json
//   CONFIG: {url, viewer_token, operator_token, spki, chromium, node_modules, screenshot,
//            experiment, run_id, metric, points, dataset, label}
import { readFileSync } from "node:fs";
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

  // Sorting by the Run column, twice, reverses the order.
  const firstRun = async () => page.getAttribute("tbody tr:first-child", "data-run");
  await page.click("th:has-text('Run')");
  const ascending = await firstRun();
  await page.click("th:has-text('Run')");
  check(ascending !== (await firstRun()) || (await page.locator("tbody tr").count()) === 1, "the runs table sorts");

  await page.click(`tr[data-run="${config.run_id}"] a`);
  await page.waitForSelector(`canvas[data-metric="${config.metric}"]`);
  const points = await page.evaluate((metric) => {
    const canvas = document.querySelector(`canvas[data-metric="${metric}"]`);
    return Chart.getChart(canvas).data.datasets[0].data.length;
  }, config.metric);
  check(points === config.points, `the ${config.metric} chart has the run's ${config.points} points (got ${points})`);
  await page.screenshot({ path: config.screenshot, fullPage: true });

  // A viewer sees the sites, with privacy levels.
  await page.goto(config.url + "/#/sites");
  await page.waitForSelector("tr[data-site] td.online");
  check((await page.textContent("main")).includes("private-aggregate"), "the sites page shows datasets and privacy levels");
  const exportWarning = await page.textContent("div[data-dataset=export] .warning");
  check(exportWarning.includes("is that the delimiter?"), "a dataset read as one column shows the delimiter hint");
  const gone = await page.textContent("div[data-dataset=gone] .error");
  check(gone.includes("gone"), `a dataset that cannot be read shows its error, and the page still renders (${gone})`);

  // The audit trail is for operators: a viewer is told so.
  await page.goto(config.url + "/#/audit");
  await page.waitForSelector("p[role=alert]:has-text('operator token')");
  check(true, "a viewer is refused the audit trail");

  // An operator sees what the sites recorded, the reads of this run's dataset among them.
  await page.click("#logout");
  await login(config.operator_token);
  await page.goto(config.url + "/#/audit");
  await page.waitForSelector("#audit tbody tr");
  check((await page.textContent("#audit")).includes(config.dataset), "the audit view lists the sites' events");

  // An operator submits a job through the form and lands on its run.
  await page.goto(config.url + "/#/submit");
  // The form lists every algorithm the master knows, nn included, with its parameters.
  await page.waitForSelector("#algorithm option[value=nn]", { state: "attached" });
  const offered = await page.$$eval("#algorithm option", (options) => options.map((o) => o.value));
  check(["lm", "lmCG", "logreg", "kmeans", "pca", "nn"].every((a) => offered.includes(a)), `the form offers ${offered}`);
  await page.selectOption("#algorithm", "kmeans");
  check(await page.isDisabled("#label"), "kmeans takes no label");
  check((await page.textContent("#algorithm-help")).includes("required"), "kmeans's k is shown as required");
  await page.selectOption("#algorithm", "lm");
  check(JSON.parse(await page.inputValue("#params")).lambda === 0, "lm's parameters start at their defaults");
  await page.fill("#experiment", config.experiment);
  await page.fill("#dataset", config.dataset);
  await page.fill("#label", config.label);
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
  check(errors.length === 0, "no script errors: " + errors.join("; "));
} finally {
  await browser.close();
}
