#!/usr/bin/env python3
"""Data and configuration for scripts/demo.

demo_data.py KITS SITE...              write each site's CSV files and catalog, and R's fit
                                       of MASS's Pima data (KITS/r-pima.json)
demo_data.py --ports KITS SITE...      point the master's federation.json at the sites' ports
demo_data.py --check KITS SUMMARY SITE...
                                       compare the federated summary with the pooled data
"""
import csv
import json
import math
import os
import random
import subprocess
import sys
import tempfile

ROWS = {"north": 1200, "south": 3400, "east": 800}
COLUMNS = ["temperature", "pressure", "vibration", "load", "overheat"]


def sensor_reading(rng, i):
    """One row of COLUMNS at site number i: warmer sites, overheating above 66 degrees."""
    load = rng.uniform(0.2, 1.0)
    temperature = 40 + 30 * load + rng.gauss(0, 2) + 5 * i
    pressure = 2.0 + 0.5 * load + rng.gauss(0, 0.05)
    vibration = 0.1 + 0.3 * load * load + abs(rng.gauss(0, 0.02))
    overheat = 1 if temperature > 66 else 0
    return [f"{temperature:.4f}", f"{pressure:.5f}", f"{vibration:.5f}", f"{load:.5f}", overheat]


# R writes MASS's Pima Indians diabetes samples (200 training, 332 test rows) and fits glm on the
# training sample, so that the demo can check fedra's federated logreg against it.
R_PIMA = """
library(MASS)
out <- commandArgs(TRUE)[1]
write.csv(Pima.tr, file.path(out, "train.csv"), row.names = FALSE)
write.csv(Pima.te, file.path(out, "test.csv"), row.names = FALSE)
g <- glm(type ~ ., data = Pima.tr, family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
p <- predict(g, Pima.te, type = "response")
y <- Pima.te$type == "Yes"
cat(sprintf('{"log_loss": %.15g, "accuracy": %.15g, "coefficients": {%s}}',
            -mean(ifelse(y, log(p), log(1 - p))), mean((p > 0.5) == y),
            paste(sprintf('"%s": %.15g', names(coef(g)), coef(g)), collapse = ", ")),
    file = file.path(out, "r-pima.json"))
"""


def write_pima(kits, sites):
    """Splits MASS's Pima samples over the sites as pima-train and pima-test, in R's row order."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["Rscript", "-e", R_PIMA, tmp], check=True, stdout=subprocess.DEVNULL)
        os.replace(f"{tmp}/r-pima.json", f"{kits}/r-pima.json")
        for sample in ["train", "test"]:
            with open(f"{tmp}/{sample}.csv", newline="") as f:
                rows = list(csv.reader(f))
            header, rows = rows[0], rows[1:]
            share = -(-len(rows) // len(sites))
            for i, site in enumerate(sites):
                with open(f"{kits}/site-{site}/pima_{sample}.csv", "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(header)
                    w.writerows(rows[i * share:(i + 1) * share])


def write_data(kits, sites):
    for i, site in enumerate(sites):
        rng = random.Random(1000 + i)
        kit = f"{kits}/site-{site}"
        with open(f"{kit}/sensors.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for _ in range(ROWS.get(site, 1000)):
                w.writerow(sensor_reading(rng, i))
        # Maintenance logs as plants keep them: text columns, and hours left blank or "NA".
        with open(f"{kit}/maintenance.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["line", "shift", "hours", "failures"])
            for _ in range(ROWS.get(site, 1000) // 4):
                line, shift = rng.choice("ABC"), rng.choice(["day", "night"])
                hours = rng.uniform(100, 5000)
                failures = 0.5 + 0.001 * hours + {"A": 0, "B": 1.5, "C": 3}[line] + (0.8 if shift == "night" else 0)
                failures += rng.gauss(0, 0.3)
                w.writerow([line, shift, rng.choice(["", "NA"]) if rng.random() < 0.05 else f"{hours:.1f}",
                            f"{failures:.3f}"])
        with open(f"{kit}/patients.csv", "w") as f:
            f.write("age,dose\n")
            for _ in range(50):
                f.write(f"{rng.randint(20, 90)},{rng.uniform(1, 5):.3f}\n")
        path = f"{kit}/site.json"
        config = json.load(open(path))
        config["listen"]["port"] = 0
        config["datasets"] = {
            # The owners let masters train models on their readings (docs/privacy.md says what that risks).
            "sensors": {"path": "sensors.csv", "privacy": "private-aggregate", "allow_training": True},
            "maintenance": {"path": "maintenance.csv", "privacy": "private-aggregate"},
            "patients": {"path": "patients.csv", "privacy": "private"},
            # Each site's clinic's records: a third of MASS's Pima samples, to train and to test on.
            "pima-train": {"path": "pima_train.csv", "privacy": "private-aggregate", "allow_training": True},
            "pima-test": {"path": "pima_test.csv", "privacy": "private-aggregate", "allow_training": True},
        }
        # Where the site writes predictions a master asks it to keep as files.
        config["output_folder"] = "predictions"
        json.dump(config, open(path, "w"), indent=2)
        print(f"   site {site}: sensors.csv ({ROWS.get(site, 1000)} rows, private-aggregate), "
              f"maintenance.csv ({ROWS.get(site, 1000) // 4} rows, private-aggregate), "
              f"pima_train.csv and pima_test.csv (a third of MASS's Pima samples, private-aggregate), "
              f"patients.csv (50 rows, private)")
    write_pima(kits, sites)


def set_ports(kits, sites):
    path = f"{kits}/master-hq/federation.json"
    config = json.load(open(path))
    for entry in config["sites"]:
        entry["port"] = int(open(f"{kits}/site-{entry['name']}/ready").read())
    json.dump(config, open(path, "w"), indent=2)


def check(kits, summary_path, sites):
    summary = json.load(open(summary_path))
    rows = []
    for site in sites:
        with open(f"{kits}/site-{site}/sensors.csv") as f:
            r = csv.reader(f)
            next(r)
            rows += [[float(v) for v in row] for row in r]
    n = len(rows)
    sums = [sum(r[j] for r in rows) for j in range(len(COLUMNS))]
    worst = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(summary["colSums"], sums))
    gram = [[sum(r[i] * r[j] for r in rows) for j in range(len(COLUMNS))] for i in range(len(COLUMNS))]
    worst_gram = max(abs(summary["tXX"][i][j] - gram[i][j]) / max(1.0, abs(gram[i][j]))
                     for i in range(len(COLUMNS)) for j in range(len(COLUMNS)))
    print(f"   {summary['rows']} rows in {len(summary['parts'])} parts: "
          + ", ".join(f"{p['site']} rows {p['rows'][0]}..{p['rows'][1]}" for p in summary["parts"]))
    for name, mean in zip(summary["columns"], summary["colMeans"]):
        print(f"   mean {name:<12} {mean:10.4f}")
    print(f"   federated result took {summary['seconds'] * 1000:.1f} ms")
    print(f"   check against the pooled data (computed here, from all sites' files): "
          f"largest relative difference colSums {worst:.1e}, t(X)%*%X {worst_gram:.1e}")
    if n != summary["rows"] or worst > 1e-9 or worst_gram > 1e-9 or not math.isfinite(worst):
        sys.exit("federated and pooled results differ")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "--ports":
        set_ports(args[1], args[2:])
    elif args[0] == "--check":
        check(args[1], args[2], args[3:])
    else:
        write_data(args[0], args[1:])
