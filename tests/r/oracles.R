# The outside oracle for the algorithm tests: real data sets that R ships, and R's own fits of them.
#
#   Rscript tests/r/oracles.R CASE DIR
#
# writes DIR/CASE.csv (the data, numeric, with a header; factors as codes 0..K-1 in level order,
# rows with missing values left out) and DIR/CASE.json (what R's lm, glm, nnet::multinom, kmeans
# or prcomp report on it). The tests split the rows over sites, fit them with fedra and compare.
# The raw-table cases (cars93, airquality) write the table as it is, with text and NA, and fit
# R's own encoding of it: imputed by R, coded by model.matrix.
suppressPackageStartupMessages({
  library(MASS)
  library(nnet)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2) stop("usage: oracles.R CASE DIR")
case <- args[1]
dir <- args[2]

codes <- function(f) as.integer(f) - 1L

# Factor levels in bytewise order, as fedra sorts categories.
invisible(Sys.setlocale("LC_COLLATE", "C"))
as_factor <- function(x) factor(as.character(x))

write_case <- function(data, fit) {
  write.csv(data, file.path(dir, paste0(case, ".csv")), row.names = FALSE)
  fit$columns <- names(data)
  writeLines(toJSON(fit, auto_unbox = TRUE, digits = NA), file.path(dir, paste0(case, ".json")))
}

coefficient_table <- function(table) {
  list(names = rownames(table), estimate = unname(table[, 1]), std_error = unname(table[, 2]),
       statistic = unname(table[, 3]), p_value = unname(table[, 4]))
}

lm_fit <- function(data, label) {
  s <- summary(lm(reformulate(setdiff(names(data), label), label), data = data))
  f <- s$fstatistic
  list(label = label, coefficients = coefficient_table(s$coefficients), sigma = s$sigma, df = s$df[2],
       r2 = s$r.squared, adj_r2 = s$adj.r.squared, f = unname(f[1]), f_df = unname(f[2:3]),
       f_p_value = unname(pf(f[1], f[2], f[3], lower.tail = FALSE)))
}

# glm's summary takes its standard errors from the weights of its last iteration, which it
# stops when the deviance changes by less than 1e-8 relative: they carry about 5 digits. The
# table comes from a fit run to 1e-14 instead; the iterations and warnings from the default one.
glm_fit <- function(data, label) {
  formula <- reformulate(setdiff(names(data), label), label)
  g <- withCallingHandlers(
    glm(formula, data = data, family = binomial),
    warning = function(w) {
      warnings_seen <<- c(warnings_seen, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  tight <- suppressWarnings(glm(formula, data = data, family = binomial,
                                control = glm.control(epsilon = 1e-14, maxit = 100)))
  list(label = label, coefficients = coefficient_table(summary(tight)$coefficients), deviance = tight$deviance,
       null_deviance = tight$null.deviance, aic = tight$aic, iterations = g$iter, converged = g$converged,
       warnings = as.list(warnings_seen))
}
warnings_seen <- character()

multinom_fit <- function(data, label) {
  m <- multinom(reformulate(setdiff(names(data), label), label), data = data,
                trace = FALSE, reltol = 1e-16, maxit = 10000)
  co <- coef(m)
  list(label = label, classes = nrow(co) + 1, names = colnames(co), coefficients = unname(co),
       deviance = m$deviance, converged = m$convergence == 0)
}

kmeans_fit <- function(data, k) {
  set.seed(1)
  best <- kmeans(data, k, nstart = 100, iter.max = 100)
  list(k = k, inertia = best$tot.withinss)
}

pca_fit <- function(data) {
  p <- prcomp(data, center = TRUE, scale. = FALSE)
  list(variances = p$sdev^2, rotation = unname(p$rotation))
}

switch(case,
  boston = {
    # Boston house prices: 13 raw columns on scales from 0.4 (nox) to 700 (tax).
    write_case(Boston, lm_fit(Boston, "medv"))
  },
  pima = {
    # Diabetes in Pima women, both of MASS's samples: glucose near 120, pedigree near 0.5.
    d <- rbind(Pima.tr, Pima.te)
    d$type <- codes(d$type)
    write_case(d, glm_fit(d, "type"))
  },
  biopsy = {
    # Wisconsin breast-cancer biopsies, the 683 complete rows.
    d <- na.omit(biopsy[, -1])
    d$class <- codes(d$class)
    write_case(d, glm_fit(d, "class"))
  },
  setosa = {
    # Setosa against the rest by sepal size: separable, so glm warns.
    d <- data.frame(Sepal.Length = iris$Sepal.Length, Sepal.Width = iris$Sepal.Width,
                    setosa = as.integer(iris$Species == "setosa"))
    write_case(d, glm_fit(d, "setosa"))
  },
  survey = {
    # Exercise (Freq, None, Some) by height, pulse and age of 171 students.
    d <- na.omit(survey[, c("Height", "Pulse", "Age", "Exer")])
    fit <- multinom_fit(d, "Exer")
    d$Exer <- codes(d$Exer)
    write_case(d, fit)
  },
  chickwts = {
    # Six feeds by chick weight.
    fit <- multinom_fit(chickwts, "feed")
    d <- chickwts
    d$feed <- codes(d$feed)
    write_case(d, fit)
  },
  iris = {
    write_case(iris[, 1:4], kmeans_fit(iris[, 1:4], 3))
  },
  diabetes = {
    # Efron et al.'s 442 diabetes patients (tests/data): ten baseline measurements, unscaled.
    script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
    d <- read.csv(file.path(dirname(script), "..", "data", "diabetes.csv"))[, 1:10]
    write_case(d, kmeans_fit(d, 4))
  },
  usarrests = {
    # Arrests per state: Assault in the hundreds, Murder near 8, so unscaled k-means and PCA
    # follow Assault.
    fit <- kmeans_fit(USArrests, 4)
    fit$pca <- pca_fit(USArrests)
    write_case(USArrests, fit)
  },
  cars93 = {
    # 93 cars of 1993: text columns (Type, Origin, AirBags) and missing luggage and rear-seat room.
    raw <- Cars93[, c("Price", "Type", "Origin", "AirBags", "Horsepower", "MPG.city", "Luggage.room",
                      "Rear.seat.room")]
    d <- raw
    for (f in c("Type", "Origin", "AirBags")) d[[f]] <- as_factor(d[[f]])
    d$Luggage.room[is.na(d$Luggage.room)] <- mean(d$Luggage.room, na.rm = TRUE)
    d$Rear.seat.room[is.na(d$Rear.seat.room)] <- median(d$Rear.seat.room, na.rm = TRUE)
    fit <- list(
      lm = lm_fit(d[, c("Price", "Type", "Origin", "AirBags", "Horsepower", "Luggage.room", "Rear.seat.room")],
                  "Price"),
      glm = glm_fit(d[, c("Origin", "Price", "Horsepower", "MPG.city", "AirBags", "Luggage.room")], "Origin"))
    write_case(raw, fit)
  },
  airquality = {
    # New York air quality, May to September 1973, the days with an ozone reading: missing solar
    # radiation (imputed by its median), the month as a category, wind standardised, temperature
    # in four equi-height bins.
    raw <- airquality[!is.na(airquality$Ozone), c("Ozone", "Solar.R", "Wind", "Temp", "Month")]
    d <- raw
    d$Solar.R[is.na(d$Solar.R)] <- median(d$Solar.R, na.rm = TRUE)
    d$Wind <- as.numeric(scale(d$Wind))
    d$Temp <- cut(d$Temp, quantile(d$Temp, 0:4 / 4), include.lowest = TRUE, right = FALSE, labels = 1:4)
    d$Month <- as_factor(d$Month)
    fit <- lm_fit(d, "Ozone")
    fit$solar_median <- median(raw$Solar.R, na.rm = TRUE)
    fit$temp_edges <- unname(quantile(raw$Temp, 0:4 / 4))
    write_case(raw, fit)
  },
  pima_scored = {
    # A model used on new rows: glm fitted on MASS's training sample of Pima women (Pima.tr, the
    # first rows of the table), scored on its test sample (Pima.te): the probabilities and every
    # metric fedra's evaluate reports, computed here from R's own predictions. ROC AUC both
    # exactly (the Wilcoxon statistic) and from 200-bin histograms of the scores.
    tr <- Pima.tr
    te <- Pima.te
    tr$type <- codes(tr$type)
    te$type <- codes(te$type)
    g <- glm(type ~ ., data = tr, family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
    p <- unname(predict(g, te, type = "response"))
    y <- te$type
    predicted <- as.integer(p > 0.5)
    confusion <- unclass(table(factor(y, levels = 0:1), factor(predicted, levels = 0:1)))
    precision <- diag(confusion) / colSums(confusion)
    recall <- diag(confusion) / rowSums(confusion)
    w <- suppressWarnings(wilcox.test(p[y == 1], p[y == 0]))$statistic
    bins <- 200
    b <- pmin(bins - 1, floor(p * bins)) + 1
    neg <- tabulate(b[y == 0], bins)
    pos <- tabulate(b[y == 1], bins)
    write_case(rbind(tr, te), list(
      label = "type", train_rows = nrow(tr), coefficients = coefficient_table(summary(g)$coefficients),
      probabilities = p, log_loss = -mean(y * log(p) + (1 - y) * log(1 - p)), accuracy = mean(predicted == y),
      confusion = unname(confusion), precision = unname(precision), recall = unname(recall),
      f1 = unname(2 * precision * recall / (precision + recall)),
      auc = unname(w) / (sum(y == 1) * sum(y == 0)),
      histogram_auc = sum(pos * (cumsum(neg) - neg / 2)) / (sum(pos) * sum(neg))))
  },
  stop("unknown case '", case, "'")
)
