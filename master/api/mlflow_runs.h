// fedra's runs and experiments as MLflow's tracking API shows them, and MLflow's search over
// them: the filter language ("metrics.rmse < 1 and params.lr = '0.01'") and order_by clauses.
//
// Runs come as the experiment database lists them (ExperimentDb::ListRuns): ids are numbers
// there and strings in MLflow's shapes; times are seconds there and milliseconds here; statuses
// are lowercase there and MLflow's names here (cancelled is KILLED).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "master/tracking/experiment_db.h"

namespace fedra {

// {key: value, ...} as MLflow lists params and tags: [{"key", "value"}, ...].
nlohmann::json KeyValueList(const nlohmann::json& object);

// "FINISHED" for "finished", "KILLED" for "cancelled", ...
std::string MlflowStatus(std::string_view status);
// The run status named by MLflow's name or fedra's, in either case ("KILLED" or "cancelled").
Result<RunStatus> RunStatusFromMlflow(std::string_view name);

// {"info": {...}, "data": {"metrics", "params", "tags"}, "inputs": {}} of a listed run.
nlohmann::json MlflowRun(const nlohmann::json& run);
// {"experiment_id", "name", "artifact_location", "lifecycle_stage", "creation_time", ...}.
nlohmann::json MlflowExperiment(const nlohmann::json& experiment);

// One comparison of a filter: `kind`.`key` op value, kind one of metrics, params, tags,
// attributes.
struct FilterClause {
  std::string kind, key, op;                              // op: = != < <= > >= LIKE ILIKE IN NOT IN
  std::vector<std::variant<double, std::string>> values;  // one, or IN's list
};

// Parses a filter: clauses joined by AND (MLflow has no OR). Empty: every run.
Result<std::vector<FilterClause>> ParseFilter(std::string_view filter);

struct OrderClause {
  std::string kind, key;
  bool ascending = true;
};
// "metrics.rmse DESC", "attributes.start_time", "params.lr ASC".
Result<OrderClause> ParseOrderBy(std::string_view clause);

// The runs of `runs` (as ListRuns gives them) that match every clause, in the order asked
// (then in the order given); a run without the metric, param or tag a clause names does not
// match, and sorts last.
Result<nlohmann::json> SearchRuns(const nlohmann::json& runs, const std::vector<FilterClause>& filter,
                                  const std::vector<OrderClause>& order);
// The same over experiments (attributes name, experiment_id, creation_time).
Result<nlohmann::json> SearchExperiments(const nlohmann::json& experiments, const std::vector<FilterClause>& filter,
                                         const std::vector<OrderClause>& order);

}  // namespace fedra
