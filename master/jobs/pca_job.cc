// The "pca" job: principal components from the federated covariance; the projection stays at
// the sites.
#include "master/algorithms/pca.h"
#include "master/jobs/job.h"

namespace fedra {

AlgorithmInfo PcaJob() {
  const PcaOptions d;
  AlgorithmInfo a;
  a.name = "pca";
  a.summary = "principal component analysis; no label, no held-out score";
  a.needs_label = false;
  a.scores_held_out = false;
  a.params = {
      {"k", "integer", d.components, 1, 100000, "components"},
      {"center", "boolean", d.center, 0, 0, "subtract the column means"},
      {"scale", "boolean", d.scale, 0, 0, "divide by the column standard deviations"},
  };
  a.prepare = [](const JobSpec&, const nlohmann::json& v) -> Result<PreparedFit> {
    PcaOptions options;
    options.components = v["k"];
    options.center = v["center"];
    options.scale = v["scale"];
    return PreparedFit([options](const FitData& in) -> Result<nlohmann::json> {
      FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, in.data.SelectColumns(in.fed, in.features));
      FEDRA_ASSIGN_OR_RETURN(PcaModel model, FitPca(in.fed, x, options));
      // The projection stays at the sites; a one-shot job shows its shape and then releases it.
      FEDRA_ASSIGN_OR_RETURN(FederatedMatrix projected, ProjectPca(in.fed, x, model));
      nlohmann::json parts = nlohmann::json::array();
      for (const FederatedPart& p : projected.map().parts()) {
        parts.push_back({{"site", p.site}, {"rows", {p.range.begin, p.range.end}}});
      }
      // One list of loadings per component, PC1 first, each in the order of "columns".
      nlohmann::json components = nlohmann::json::array();
      for (Eigen::Index c = 0; c < model.components.cols(); ++c) {
        const Eigen::VectorXd loadings = model.components.col(c);
        components.push_back(std::vector<double>(loadings.data(), loadings.data() + loadings.size()));
      }
      const Eigen::VectorXd& ratio = model.explained_ratio;
      const Eigen::VectorXd& variances = model.variances;
      return nlohmann::json{
          {"rows", x.rows()},
          {"columns", x.column_names()},
          {"components", components},
          {"center", std::vector<double>(model.center.data(), model.center.data() + model.center.size())},
          {"scale", std::vector<double>(model.scale.data(), model.scale.data() + model.scale.size())},
          {"metrics",
           {{"explained_variance_ratio", std::vector<double>(ratio.data(), ratio.data() + ratio.size())},
            {"variances", std::vector<double>(variances.data(), variances.data() + variances.size())}}},
          {"projection", {{"rows", projected.rows()}, {"cols", projected.cols()}, {"parts", parts}}},
          {"iterations", 0}};
    });
  };
  return a;
}

}  // namespace fedra
