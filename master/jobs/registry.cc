#include "master/jobs/registry.h"

#include <sstream>

namespace fedra {

// Each algorithm's entry, defined in its own *_job.cc.
AlgorithmInfo LmJob();
AlgorithmInfo LmCgJob();
AlgorithmInfo LogRegJob();
AlgorithmInfo KMeansJob();
AlgorithmInfo PcaJob();
AlgorithmInfo NnJob();

const std::vector<AlgorithmInfo>& Algorithms() {
  static const std::vector<AlgorithmInfo> all = {LmJob(), LmCgJob(), LogRegJob(), KMeansJob(), PcaJob(), NnJob()};
  return all;
}

const AlgorithmInfo* FindAlgorithm(std::string_view name) {
  for (const AlgorithmInfo& a : Algorithms()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

nlohmann::json AlgorithmCatalog() {
  nlohmann::json out = nlohmann::json::array();
  for (const AlgorithmInfo& a : Algorithms()) out.push_back(a.ToJson());
  return out;
}

std::string AlgorithmHelp(int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  std::ostringstream out;
  for (const AlgorithmInfo& a : Algorithms()) {
    out << pad << a.name << ": " << a.summary << "\n";
    const bool top_level = !a.Takes("params");
    for (const ParamInfo& p : a.params) {
      out << pad << "    " << (top_level ? "" : "params.") << p.name << " (" << p.type;
      if (p.default_value.is_null()) {
        out << ", required";
      } else if (p.type != "object") {
        out << ", default " << p.default_value.dump();
      }
      out << "): " << p.doc << "\n";
    }
  }
  return out.str();
}

}  // namespace fedra
