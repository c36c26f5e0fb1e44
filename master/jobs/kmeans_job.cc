// The "kmeans" job: k-means++ from the sites' micro-clusters, then Lloyd's iterations.
#include "master/algorithms/kmeans.h"
#include "master/jobs/job.h"

namespace fedra {

AlgorithmInfo KMeansJob() {
  const KMeansOptions d;
  AlgorithmInfo a;
  a.name = "kmeans";
  a.summary = "k-means clustering (k-means++ starts, Lloyd's iterations); no label";
  a.needs_label = false;
  a.params = {
      {"k", "integer", nullptr, 1, 100000, "clusters"},
      {"restarts", "integer", d.restarts, 1, 1000, "independent starts; the lowest inertia wins"},
      {"max_iterations", "integer", d.max_iterations, 1, 100000, "iterations per start at most"},
      {"tolerance", "number", d.tolerance, 0, 1,
       "converged when the centres' squared movement is at most tolerance x inertia / rows"},
      {"seed", "integer", d.seed, 0, static_cast<double>(int64_t{1} << 62), "seed of the starts"},
  };
  a.prepare = [](const JobSpec&, const nlohmann::json& v) -> Result<PreparedFit> {
    KMeansOptions options;
    options.k = v["k"];
    options.restarts = v["restarts"];
    options.max_iterations = v["max_iterations"];
    options.tolerance = v["tolerance"];
    options.seed = v["seed"];
    return PreparedFit([options](const FitData& in) -> Result<nlohmann::json> {
      KMeansOptions o = options;
      o.on_iteration = in.on_iteration;
      FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, in.data.SelectColumns(in.fed, in.features));
      FEDRA_ASSIGN_OR_RETURN(KMeansModel model, FitKMeans(in.fed, x, o));
      // One list per centre, in the order of "columns".
      nlohmann::json centers = nlohmann::json::array();
      for (Eigen::Index c = 0; c < model.centers.rows(); ++c) {
        const Eigen::RowVectorXd center = model.centers.row(c);
        centers.push_back(std::vector<double>(center.data(), center.data() + center.size()));
      }
      nlohmann::json result = {
          {"rows", x.rows()},
          {"columns", x.column_names()},
          {"centers", centers},
          {"sizes", std::vector<double>(model.sizes.data(), model.sizes.data() + model.sizes.size())},
          {"metrics", {{"inertia", model.inertia}, {"restart_inertias", model.restart_inertias}}},
          {"converged", model.converged},
          {"iterations", model.iterations}};
      if (in.held_out) {
        FEDRA_ASSIGN_OR_RETURN(FederatedMatrix test, in.held_out->SelectColumns(in.fed, in.features));
        FEDRA_ASSIGN_OR_RETURN(KMeansScore scored, ScoreKMeans(in.fed, test, model.centers));
        result["held_out"] = {{"rows", test.rows()}, {"metrics", {{"inertia", scored.inertia}}}};
      }
      return result;
    });
  };
  return a;
}

}  // namespace fedra
