// Federated k-means against Lloyd's algorithm run here on the pooled data, and against the known
// blob means where the clusters are well separated. Privacy: sites share only clusters at least
// as large as their policy's minimum.
#include <doctest/doctest.h>

#include <random>

#include "master/algorithms/kmeans.h"
#include "master/jobs/job.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/local_federation.h"
#include "tests/support/r_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::InProcessSites;
using testing::TempDir;

// `per_blob` rows around each of `means`' rows, blob after blob, with normal noise of `spread`.
Matrix Blobs(const Matrix& means, int per_blob, double spread, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, spread);
  Matrix m(means.rows() * per_blob, means.cols());
  for (Eigen::Index b = 0; b < means.rows(); ++b) {
    for (int i = 0; i < per_blob; ++i) {
      for (Eigen::Index j = 0; j < means.cols(); ++j) m(b * per_blob + i, j) = means(b, j) + noise(rng);
    }
  }
  return m;
}

struct Lloyd {
  Matrix centers;
  Eigen::VectorXd sizes;
  double inertia = 0;
  int iterations = 0;
};

// The reference: Lloyd's algorithm with direct squared distances and the documented stopping
// rule (stop once the centres move by at most tolerance x inertia / n in total).
Lloyd LocalLloyd(const Matrix& x, Matrix centers, double tolerance, int max_iterations) {
  const Eigen::Index k = centers.rows();
  for (int iteration = 1;; ++iteration) {
    Matrix sums = Matrix::Zero(k, x.cols());
    Eigen::VectorXd sizes = Eigen::VectorXd::Zero(k);
    double inertia = 0;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      Eigen::Index best;
      const double d = (centers.rowwise() - x.row(i)).rowwise().squaredNorm().minCoeff(&best);
      sums.row(best) += x.row(i);
      sizes(best) += 1;
      inertia += d;
    }
    Matrix next = centers;
    for (Eigen::Index c = 0; c < k; ++c) {
      if (sizes(c) > 0) next.row(c) = sums.row(c) / sizes(c);
    }
    const bool done = (next - centers).squaredNorm() <= tolerance * inertia / static_cast<double>(x.rows());
    if (done || iteration == max_iterations) return Lloyd{centers, sizes, inertia, iteration};
    centers = next;
  }
}

double Inertia(const Matrix& x, const Matrix& centers) {
  double total = 0;
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    total += (centers.rowwise() - x.row(i)).rowwise().squaredNorm().minCoeff();
  return total;
}

const std::vector<std::string> kPointColumns = {"p", "q", "r"};

Matrix BlobMeans() {
  Matrix means(3, 3);
  means << 0, 0, 0,  //
      8, 1, -2,      //
      -3, 9, 4;
  return means;
}

}  // namespace

TEST_CASE("k-means from given centres follows Lloyd's algorithm on the pooled data") {
  TempDir dir;
  InProcessSites local(dir.path(), {"a", "b", "c"});
  // Overlapping blobs, so Lloyd takes a number of iterations; public, so any cluster may be small.
  const Matrix pooled = Blobs(BlobMeans() * 0.4, 150, 1.5, 3);
  local.AddSplitCsvDataset("pts", pooled, {60, 170, 220}, kPointColumns, "public");
  local.StartAll();
  auto fed = local.Connect();
  Result<FederatedMatrix> x = FederatedMatrix::Read(*fed, "pts");
  REQUIRE(x.ok());

  Matrix start(3, 3);
  start << pooled.row(5), pooled.row(7), pooled.row(11);  // three rows of the first blob: a poor start
  KMeansOptions options;
  options.k = 3;
  options.tolerance = 1e-10;
  options.initial_centers = start;
  Result<KMeansModel> model = FitKMeans(*fed, *x, options);
  REQUIRE_MESSAGE(model.ok(), model.status().ToString());
  const Lloyd want = LocalLloyd(pooled, start, options.tolerance, options.max_iterations);
  CHECK(want.iterations > 3);
  CHECK(model->iterations == want.iterations);
  CHECK(model->converged);
  CHECK((model->centers - want.centers).cwiseAbs().maxCoeff() < 1e-9);
  CHECK(model->sizes == want.sizes);
  CHECK(model->inertia == doctest::Approx(want.inertia).epsilon(1e-12));

  // A cap on the iterations stops there, with the inertia of the centres it returns.
  options.max_iterations = 2;
  Result<KMeansModel> capped = FitKMeans(*fed, *x, options);
  REQUIRE(capped.ok());
  CHECK(capped->iterations == 2);
  CHECK_FALSE(capped->converged);
  CHECK(capped->inertia == doctest::Approx(Inertia(pooled, capped->centers)).epsilon(1e-12));
}

TEST_CASE("k-means++ from the sites' micro-clusters finds separated blobs in private-aggregate data") {
  TempDir dir;
  InProcessSites local(dir.path(), {"a", "b", "c"});
  const Matrix means = BlobMeans();
  const Matrix pooled = Blobs(means, 200, 0.8, 9);
  // Non-IID: site a holds only blob 0, site c mostly blob 2.
  local.AddSplitCsvDataset("pts", pooled, {150, 190, 260}, kPointColumns, "private-aggregate");
  local.StartAll();
  auto fed = local.Connect();
  Result<FederatedMatrix> x = FederatedMatrix::Read(*fed, "pts");
  REQUIRE(x.ok());

  KMeansOptions options;
  options.k = 3;
  options.restarts = 4;
  options.seed = 5;
  Result<KMeansModel> model = FitKMeans(*fed, *x, options);
  REQUIRE_MESSAGE(model.ok(), model.status().ToString());
  CHECK(model->restart_inertias.size() == 4);
  // Each found centre is the mean of one blob's rows, computed here.
  for (Eigen::Index b = 0; b < 3; ++b) {
    const Eigen::RowVectorXd blob_mean = pooled.middleRows(b * 200, 200).colwise().mean();
    Eigen::Index found;
    (model->centers.rowwise() - blob_mean).rowwise().squaredNorm().minCoeff(&found);
    CHECK((model->centers.row(found) - blob_mean).cwiseAbs().maxCoeff() < 1e-9);
    CHECK(model->sizes(found) == 200);
  }
  CHECK(model->inertia == doctest::Approx(Inertia(pooled, model->centers)).epsilon(1e-12));

  // The same seed gives the same model.
  Result<KMeansModel> again = FitKMeans(*fed, *x, options);
  REQUIRE(again.ok());
  CHECK(again->centers == model->centers);
}

TEST_CASE("k-means shares no cluster smaller than a site's minimum") {
  TempDir dir;
  InProcessSites local(dir.path(), {"a", "b"});
  local.AddCsvDataset("a", "pts", Blobs(BlobMeans(), 100, 1, 1), kPointColumns, "private-aggregate");
  local.AddCsvDataset("b", "pts", Blobs(BlobMeans(), 2, 1, 2), kPointColumns, "private-aggregate");  // 6 rows < 10
  local.StartAll();
  auto fed = local.Connect();
  Result<FederatedMatrix> x = FederatedMatrix::Read(*fed, "pts");
  REQUIRE(x.ok());
  KMeansOptions options;
  options.k = 2;
  Status refused = FitKMeans(*fed, *x, options).status();
  CHECK(refused.code() == StatusCode::kPermissionDenied);
  CHECK_MESSAGE(refused.message().find("site 'b'") != std::string::npos, refused.ToString());
  CHECK(refused.message().find("fewer rows than the site's minimum of 10") != std::string::npos);

  // Centres that would put one outlying row of site a in a cluster of its own: the site assigns
  // whole cells of at least 10 neighbouring rows, so no cluster holds the outlier alone.
  Matrix with_outlier(101, 3);
  with_outlier << Blobs(BlobMeans().topRows(1), 100, 1, 5), 100, 100, 100;
  local.AddCsvDataset("a", "solo", with_outlier, kPointColumns, "private-aggregate");
  local.AddCsvDataset("b", "solo", Blobs(BlobMeans().topRows(1), 50, 1, 6), kPointColumns, "private-aggregate");
  CHECK(local.Stop("a") == 0);
  CHECK(local.Stop("b") == 0);
  local.StartAll();
  Result<FederatedMatrix> solo = FederatedMatrix::Read(*fed, "solo");
  REQUIRE_MESSAGE(solo.ok(), solo.status().ToString());
  options.initial_centers = Matrix{{100, 100, 100}, {0, 0, 0}};
  options.max_iterations = 1;
  Result<KMeansModel> alone = FitKMeans(*fed, *solo, options);
  REQUIRE_MESSAGE(alone.ok(), alone.status().ToString());
  CHECK(alone->sizes.sum() == 151);
  for (Eigen::Index c = 0; c < 2; ++c) CHECK((alone->sizes(c) == 0 || alone->sizes(c) >= 10));
}

TEST_CASE_TEMPLATE("kmeans jobs name the centres' columns and reject bad parameters", Sites, InProcessSites,
                   testing::LocalFederation) {
  TempDir dir;
  Sites local(dir.path(), {"a", "b"});
  const Matrix pooled = Blobs(BlobMeans(), 100, 0.5, 4);
  local.AddSplitCsvDataset("pts", pooled, {120, 180}, kPointColumns, "private-aggregate");
  local.StartAll();
  auto fed = local.Connect();
  auto job = [](const std::string& text) { return ParseJobSpec(nlohmann::json::parse(text), "job.json"); };
  Result<JobSpec> spec = job(R"({"algorithm": "kmeans", "data": {"dataset": "pts", "features": ["p", "q"]},
                                 "params": {"k": 3, "seed": 2}})");
  REQUIRE_MESSAGE(spec.ok(), spec.status().ToString());
  Result<nlohmann::json> result = RunJob(*fed, *spec);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  CHECK((*result)["centers"].size() == 3);
  // Each centre lists the selected columns, in their order.
  CHECK((*result)["columns"] == nlohmann::json::array({"p", "q"}));
  CHECK((*result)["centers"][0].size() == 2);
  CHECK((*result)["rows"] == 300);
  CHECK((*result)["metrics"]["inertia"].get<double>() > 0);

  CHECK(job(R"({"algorithm": "kmeans", "data": {"dataset": "pts"}})").status().message().find("k: required") !=
        std::string::npos);
  CHECK(job(R"({"algorithm": "kmeans", "data": {"dataset": "pts"}, "params": {"k": 0}})")
            .status()
            .message()
            .find("params.k") != std::string::npos);
  CHECK(job(R"({"algorithm": "kmeans", "data": {"dataset": "pts"}, "params": {"k": 2, "n_init": 3}})")
            .status()
            .message()
            .find("n_init: unknown field") != std::string::npos);
  Status too_many =
      RunJob(*fed, *job(R"({"algorithm": "kmeans", "data": {"dataset": "pts"}, "params": {"k": 301}})")).status();
  CHECK(too_many.message().find("k = 301 exceeds the 300 rows") != std::string::npos);
}

// Iris (4 columns) and USArrests (Assault in the hundreds beside Murder near 8), unscaled, split
// over three sites: the defaults' inertia against R's best of 100 Hartigan-Wong starts.
TEST_CASE("k-means with its defaults comes within 1% of R's best of 100 starts on real data") {
  for (const char* name : {"iris", "usarrests"}) {
    CAPTURE(name);
    testing::RFederation f(name, "public");
    KMeansOptions options;
    options.k = f.r.fit["k"];
    Result<KMeansModel> model = FitKMeans(*f.fed, *f.data, options);
    REQUIRE_MESSAGE(model.ok(), model.status().ToString());
    const double best = f.r.fit["inertia"];
    CHECK(model->converged);
    CHECK_MESSAGE(model->inertia <= best * 1.01, "fedra ", model->inertia, ", R ", best);
    // It cannot do better than the optimum R found, beyond rounding.
    CHECK(model->inertia >= best * (1 - 1e-9));
  }
}

TEST_CASE("k-means runs on secure-aggregate data where private-aggregate refuses small clusters") {
  // Diabetes (442 rows) over three sites, 150/150/142; k = 4. R's best of 100 starts is the oracle.
  TempDir dir;
  const testing::RCase r = testing::LoadRCase("diabetes", dir.path());
  REQUIRE(r.data.rows() == 442);
  testing::LocalFederation local(dir.path() / "sites", {"a", "b", "c"});
  local.AddSplitCsvDataset("diabetes", r.data, {150, 150, 142}, r.columns, "private-aggregate");
  local.AddSplitCsvDataset("diabetes_secure", r.data, {150, 150, 142}, r.columns, "secure-aggregate");
  local.StartAll();
  auto fed = local.Connect();
  KMeansOptions options;
  options.k = 4;
  options.restarts = 20;

  // private-aggregate: the sites' micro-clusters for seeding are refused, and so, from given
  // centres, is the first iteration: some cluster holds fewer than 10 rows at some site.
  Matrix start(4, r.data.cols());
  start << r.data.row(0), r.data.row(100), r.data.row(200), r.data.row(300);
  Result<FederatedMatrix> plain = FederatedMatrix::Read(*fed, "diabetes");
  REQUIRE(plain.ok());
  Result<KMeansModel> refused = FitKMeans(*fed, *plain, options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kPermissionDenied);
  KMeansOptions given = options;
  given.initial_centers = start;
  refused = FitKMeans(*fed, *plain, given);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kPermissionDenied);
  CHECK_MESSAGE(refused.status().message().find("kmeans iteration 1") != std::string::npos, refused.status().message());

  Result<FederatedMatrix> x = FederatedMatrix::Read(*fed, "diabetes_secure");
  REQUIRE(x.ok());
  CHECK(x->secure_sums());
  Result<KMeansModel> model = FitKMeans(*fed, *x, options);
  REQUIRE_MESSAGE(model.ok(), model.status().ToString());
  const double best = r.fit["inertia"];
  CHECK_MESSAGE(model->inertia <= best * 1.01, "fedra ", model->inertia, ", R ", best);
  CHECK(model->inertia >= best * (1 - 1e-9));
  // Its inertia is that of its centres on the pooled rows, to the secure sum's precision.
  CHECK(model->inertia == doctest::Approx(Inertia(r.data, model->centers)).epsilon(1e-9));

  // From given centres, the secure run is Lloyd's algorithm on the pooled rows.
  options.initial_centers = start;
  options.tolerance = 1e-10;
  Result<KMeansModel> from_start = FitKMeans(*fed, *x, options);
  REQUIRE_MESSAGE(from_start.ok(), from_start.status().ToString());
  const Lloyd want = LocalLloyd(r.data, start, options.tolerance, options.max_iterations);
  CHECK(from_start->iterations == want.iterations);
  CHECK(from_start->sizes == want.sizes);
  CHECK((from_start->centers - want.centers).cwiseAbs().maxCoeff() < 1e-6);
}

}  // namespace fedra
