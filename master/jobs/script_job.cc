#include "master/jobs/script_job.h"

#include <chrono>

#include "common/config.h"
#include "common/logging.h"
#include "master/federation/site_subset.h"
#include "master/jobs/saved_model.h"
#include "master/script/interpreter.h"

namespace fedra {
namespace {

// What a job keeps of a script's prints and writes, at most: they go into the run's record.
constexpr size_t kMaxOutputBytes = size_t{4} << 20;
// How often a running script asks whether it was cancelled.
constexpr auto kCancelCheck = std::chrono::milliseconds(250);
// Metric points a script may log in one run.
constexpr int64_t kMaxMetricPoints = 100'000;
// Models a script may declare in one run (save_model).
constexpr size_t kMaxModels = 16;

Result<std::string> ArgText(const nlohmann::json& v, const std::string& where) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "TRUE" : "FALSE");
  if (v.is_number()) return v.dump();
  return InvalidArgument(where + ": expected a string, a number or a boolean");
}

}  // namespace

bool IsScriptJob(const nlohmann::json& doc) { return doc.is_object() && doc.contains("script"); }

Result<JobSpec> ParseScriptJob(const nlohmann::json& doc, const std::string& source) {
  JobSpec job;
  job.algorithm = "script";
  JsonFields f(doc, source + ":");
  FEDRA_RETURN_IF_ERROR(f.Required("script", &job.script));
  if (job.script.find_first_not_of(" \t\r\n") == std::string::npos) {
    return InvalidArgument(f.Path("script") + ": empty");
  }
  if (job.script.size() > (size_t{1} << 20)) return InvalidArgument(f.Path("script") + ": longer than 1 MiB");
  FEDRA_RETURN_IF_ERROR(f.Optional("name", &job.name));
  if (const nlohmann::json* args = f.Child("args")) {
    if (!args->is_object()) return InvalidArgument(f.Path("args") + ": expected an object of NAME: VALUE");
    for (const auto& [name, value] : args->items()) {
      FEDRA_ASSIGN_OR_RETURN(job.args[name], ArgText(value, f.Path("args") + "." + name));
    }
  }
  FEDRA_RETURN_IF_ERROR(f.Optional("sites", &job.sites));
  FEDRA_RETURN_IF_ERROR(f.Finish());
  if (Status s = script::CheckScript(job.script); !s.ok()) return s.WithContext(f.Path("script"));
  return job;
}

Result<nlohmann::json> RunScriptJob(Federation& federation, const JobSpec& job, const IterationHook& on_iteration) {
  std::unique_ptr<SiteSubset> subset;
  if (!job.sites.empty()) {
    Result<std::unique_ptr<SiteSubset>> named = SiteSubset::Make(federation, job.sites);
    if (!named.ok()) return named.status().WithContext("sites").WithContext("script");
    subset = std::move(named).value();
  }
  Federation& fed = subset ? *subset : federation;
  nlohmann::json printed = nlohmann::json::array(), outputs = nlohmann::json::object();
  size_t kept = 0;
  auto keep = [&kept](const std::string& text) -> Status {
    kept += text.size();
    if (kept <= kMaxOutputBytes) return Status::Ok();
    return ResourceExhausted("the script's prints, writes and saved models come to more than " +
                             std::to_string(kMaxOutputBytes >> 20) + " MiB, more than a run keeps");
  };
  script::ScriptOptions options;
  options.args = job.args;
  options.io.print = [&](const std::string& line) -> Status {
    if (job.on_print) job.on_print(line);
    FEDRA_RETURN_IF_ERROR(keep(line));
    printed.push_back(line);
    return Status::Ok();
  };
  options.io.write = [&](const std::string& target, const std::string& text) -> Status {
    FEDRA_RETURN_IF_ERROR(keep(text));
    outputs[target] = text;
    return Status::Ok();
  };
  nlohmann::json models = nlohmann::json::object();
  options.io.save_model = [&](const script::ModelDeclaration& declared) -> Status {
    FEDRA_ASSIGN_OR_RETURN(nlohmann::json parts, DeclaredModel(declared));
    if (!models.contains(declared.name) && models.size() >= kMaxModels) {
      return ResourceExhausted("save_model: more than " + std::to_string(kMaxModels) + " models in one run");
    }
    FEDRA_RETURN_IF_ERROR(keep(parts.dump()));
    models[declared.name] = std::move(parts);  // the last declaration of a name wins
    return Status::Ok();
  };
  int64_t points = 0;
  options.io.log_metric = [&](const std::string& name, double value, int64_t step) -> Status {
    if (++points > kMaxMetricPoints) {
      return ResourceExhausted("log_metric: more than " + std::to_string(kMaxMetricPoints) +
                               " metric points in one run; log fewer (every k-th step)");
    }
    return ReportIteration(on_iteration, static_cast<int>(step), {{name, value}});
  };
  auto last_check = std::chrono::steady_clock::now();
  options.io.check = [&]() -> Status {
    const auto now = std::chrono::steady_clock::now();
    if (!on_iteration || now - last_check < kCancelCheck) return Status::Ok();
    last_check = now;
    return on_iteration(0, {});
  };
  FEDRA_LOG(kInfo) << "script" << (job.name.empty() ? "" : " '" + job.name + "'") << ": running at "
                   << fed.site_names().size() << " sites";
  (void)fed.TakeNoiseReport();
  Result<script::ScriptReport> report = script::RunScript(fed, job.script, options);
  if (!report.ok()) return report.status().WithContext("script");
  nlohmann::json result = {{"algorithm", "script"},
                           {"printed", printed},
                           {"outputs", outputs},
                           {"batches", report->batches},
                           {"instructions", report->instructions},
                           {"reused", report->reused},
                           {"sites", fed.site_names()},
                           {"seconds", report->seconds}};
  if (!job.name.empty()) result["name"] = job.name;
  if (!models.empty()) result["models"] = models;
  if (nlohmann::json noise = fed.TakeNoiseReport(); !noise.empty()) result["privacy"] = {{"noise", noise}};
  return result;
}

}  // namespace fedra
