#include "master/api/mlflow_runs.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>

namespace fedra {
namespace {

using FieldValue = std::variant<double, std::string>;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

int64_t Millis(const nlohmann::json& seconds) {
  return seconds.is_number() ? static_cast<int64_t>(std::llround(seconds.get<double>() * 1000)) : 0;
}

// The entity a clause names: metrics, params, tags or attributes, as MLflow spells them.
Result<std::string> EntityKind(std::string_view prefix) {
  static const std::map<std::string, std::string> kinds = {
      {"metric", "metrics"},       {"metrics", "metrics"},       {"param", "params"},    {"params", "params"},
      {"parameter", "params"},     {"parameters", "params"},     {"tag", "tags"},        {"tags", "tags"},
      {"attribute", "attributes"}, {"attributes", "attributes"}, {"attr", "attributes"}, {"run", "attributes"}};
  const auto it = kinds.find(Lower(prefix));
  if (it == kinds.end()) {
    return InvalidArgument("'" + std::string(prefix) +
                           "' is not metrics, params, tags or attributes; name a field as metrics.rmse, "
                           "params.lr, tags.team or attributes.status");
  }
  return it->second;
}

// A small lexer over MLflow's filter and order_by text.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  size_t position() const { return pos_; }

  bool AtEnd() {
    SkipSpace();
    return pos_ >= text_.size();
  }

  // metrics.rmse, params.`learning rate`, tags."team", attributes.status; a bare name is an
  // attribute (status, name).
  Result<std::pair<std::string, std::string>> Field() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < text_.size() && (std::isalpha(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) ++pos_;
    if (pos_ == start) return InvalidArgument("expected a field such as metrics.rmse at " + Where(start));
    if (pos_ >= text_.size() || text_[pos_] != '.') {
      return std::pair<std::string, std::string>{"attributes", std::string(text_.substr(start, pos_ - start))};
    }
    FEDRA_ASSIGN_OR_RETURN(std::string kind, EntityKind(text_.substr(start, pos_ - start)));
    ++pos_;  // '.'
    std::string key;
    if (pos_ < text_.size() && (text_[pos_] == '`' || text_[pos_] == '"')) {
      FEDRA_ASSIGN_OR_RETURN(key, Quoted());
    } else {
      const size_t k = pos_;
      while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[pos_])) &&
             std::string_view("=!<>(),").find(text_[pos_]) == std::string_view::npos) {
        ++pos_;
      }
      key = std::string(text_.substr(k, pos_ - k));
    }
    if (key.empty()) return InvalidArgument("a field with no name at " + Where(start));
    return std::pair{kind, key};
  }

  Result<std::string> Operator() {
    SkipSpace();
    for (std::string_view op : {"<=", ">=", "!=", "<>", "==", "=", "<", ">"}) {
      if (text_.substr(pos_).starts_with(op)) {
        pos_ += op.size();
        return op == "<>" ? std::string("!=") : op == "==" ? std::string("=") : std::string(op);
      }
    }
    const std::string word = Upper(Word());
    if (word == "LIKE" || word == "ILIKE" || word == "IN") return word;
    if (word == "NOT" && Upper(Word()) == "IN") return std::string("NOT IN");
    return InvalidArgument("expected a comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN) at " + Where(pos_));
  }

  // A number, a 'string' or "string", or for IN a parenthesised list of them.
  Result<std::vector<FieldValue>> Values(bool list) {
    SkipSpace();
    std::vector<FieldValue> out;
    if (!list) {
      FEDRA_ASSIGN_OR_RETURN(FieldValue v, Value());
      out.push_back(std::move(v));
      return out;
    }
    if (pos_ >= text_.size() || text_[pos_] != '(')
      return InvalidArgument("IN takes a list: ('a', 'b') at " + Where(pos_));
    ++pos_;
    for (;;) {
      FEDRA_ASSIGN_OR_RETURN(FieldValue v, Value());
      out.push_back(std::move(v));
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ')') {
        ++pos_;
        return out;
      }
      return InvalidArgument("expected ',' or ')' in IN's list at " + Where(pos_));
    }
  }

  std::string Word() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  std::string Where(size_t at) const {
    return "character " + std::to_string(at + 1) + " of \"" + std::string(text_) + "\"";
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  Result<std::string> Quoted() {
    const char quote = text_[pos_];
    const size_t start = ++pos_;
    const size_t end = text_.find(quote, start);
    if (end == std::string_view::npos)
      return InvalidArgument("an unclosed " + std::string(1, quote) + " at " + Where(start - 1));
    pos_ = end + 1;
    return std::string(text_.substr(start, end - start));
  }

  Result<FieldValue> Value() {
    SkipSpace();
    if (pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"')) {
      FEDRA_ASSIGN_OR_RETURN(std::string s, Quoted());
      return FieldValue(std::move(s));
    }
    double v = 0;
    const auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + text_.size(), v);
    if (ec != std::errc() || !std::isfinite(v)) {
      return InvalidArgument("expected a number or a quoted string at " + Where(pos_));
    }
    pos_ = static_cast<size_t>(end - text_.data());
    return FieldValue(v);
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// SQL's LIKE: % any run of characters, _ any one.
bool Like(std::string_view text, std::string_view pattern) {
  size_t t = 0, p = 0, star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '%') {
      star_p = p++;
      star_t = t;
    } else if (p < pattern.size() && (pattern[p] == '_' || pattern[p] == text[t])) {
      ++t;
      ++p;
    } else if (star_p != std::string_view::npos) {
      p = star_p + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

bool Matches(const FieldValue& field, const FilterClause& c) {
  const std::string& op = c.op;
  if (op == "IN" || op == "NOT IN") {
    const bool found = std::find(c.values.begin(), c.values.end(), field) != c.values.end();
    return found == (op == "IN");
  }
  const FieldValue& v = c.values.front();
  if (field.index() != v.index()) return op == "!=";
  if (op == "LIKE" || op == "ILIKE") {
    const auto& text = std::get<std::string>(field);
    const auto& pattern = std::get<std::string>(v);
    return op == "LIKE" ? Like(text, pattern) : Like(Lower(text), Lower(pattern));
  }
  if (op == "=") return field == v;
  if (op == "!=") return field != v;
  if (op == "<") return field < v;
  if (op == "<=") return field <= v;
  if (op == ">") return field > v;
  return field >= v;  // ">="
}

// Looks up kind.key of one entity; nullopt when it has none.
using Lookup = std::function<std::optional<FieldValue>(const std::string& kind, const std::string& key)>;

std::optional<FieldValue> FromJson(const nlohmann::json& object, const std::string& key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (it->is_number()) return FieldValue(it->get<double>());
  if (it->is_string()) return FieldValue(it->get<std::string>());
  return FieldValue(it->dump());
}

// The attributes a search may name, and what each clause may do with its kind.
Status CheckClauses(const std::vector<FilterClause>& filter, const std::vector<OrderClause>& order,
                    const std::vector<std::string>& attributes) {
  auto check_attribute = [&](const std::string& key) -> Status {
    if (std::find(attributes.begin(), attributes.end(), key) != attributes.end()) return Status::Ok();
    std::string known;
    for (const std::string& a : attributes) known += (known.empty() ? "" : ", ") + a;
    return InvalidArgument("attributes." + key + ": unknown attribute (" + known + ")");
  };
  for (const FilterClause& c : filter) {
    if (c.kind == "attributes") FEDRA_RETURN_IF_ERROR(check_attribute(c.key));
    const bool numeric = std::holds_alternative<double>(c.values.front());
    if (c.kind == "metrics" && !numeric) {
      return InvalidArgument("metrics." + c.key + ": metrics compare with numbers, not strings");
    }
    if ((c.op == "LIKE" || c.op == "ILIKE") && numeric) {
      return InvalidArgument(c.kind + "." + c.key + ": " + c.op + " takes a quoted pattern");
    }
    if ((c.kind == "params" || c.kind == "tags") &&
        std::any_of(c.values.begin(), c.values.end(), [](const FieldValue& v) { return v.index() == 0; })) {
      return InvalidArgument(c.kind + "." + c.key + ": " + c.kind + " are text; quote the value ('" + c.kind + "." +
                             c.key + " = \"0.1\"')");
    }
    if ((c.kind == "params" || c.kind == "tags") && c.op != "=" && c.op != "!=" && c.op != "LIKE" && c.op != "ILIKE" &&
        c.op != "IN" && c.op != "NOT IN") {
      return InvalidArgument(c.kind + "." + c.key + ": " + c.kind +
                             " are text; compare them with =, !=, LIKE, ILIKE or IN");
    }
  }
  for (const OrderClause& o : order) {
    if (o.kind == "attributes") FEDRA_RETURN_IF_ERROR(check_attribute(o.key));
  }
  return Status::Ok();
}

// The entities of `items` that match `filter`, sorted by `order` (missing values last), then in
// their given order.
nlohmann::json Search(const nlohmann::json& items, const std::vector<FilterClause>& filter,
                      const std::vector<OrderClause>& order,
                      const std::function<Lookup(const nlohmann::json&)>& lookup_of) {
  struct Row {
    size_t index;
    std::vector<std::optional<FieldValue>> keys;
  };
  std::vector<Row> rows;
  for (size_t i = 0; i < items.size(); ++i) {
    const Lookup lookup = lookup_of(items[i]);
    const bool keep = std::all_of(filter.begin(), filter.end(), [&](const FilterClause& c) {
      const std::optional<FieldValue> v = lookup(c.kind, c.key);
      return v && Matches(*v, c);
    });
    if (!keep) continue;
    Row row{i, {}};
    for (const OrderClause& o : order) row.keys.push_back(lookup(o.kind, o.key));
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    for (size_t k = 0; k < order.size(); ++k) {
      const auto &x = a.keys[k], &y = b.keys[k];
      if (x == y) continue;
      if (!x || !y) return x.has_value();  // missing last, either way
      return order[k].ascending ? *x < *y : *y < *x;
    }
    return false;
  });
  nlohmann::json out = nlohmann::json::array();
  for (const Row& r : rows) out.push_back(items[r.index]);
  return out;
}

}  // namespace

nlohmann::json KeyValueList(const nlohmann::json& object) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [k, v] : object.items()) out.push_back({{"key", k}, {"value", v}});
  return out;
}

std::string MlflowStatus(std::string_view status) {
  return status == "cancelled" ? std::string("KILLED") : Upper(status);
}

Result<RunStatus> RunStatusFromMlflow(std::string_view name) {
  const std::string s = Upper(name);
  if (s == "RUNNING") return RunStatus::kRunning;
  if (s == "SCHEDULED") return RunStatus::kScheduled;
  if (s == "FINISHED") return RunStatus::kFinished;
  if (s == "FAILED") return RunStatus::kFailed;
  if (s == "KILLED" || s == "CANCELLED") return RunStatus::kCancelled;
  return InvalidArgument("status: unknown value '" + std::string(name) +
                         "' (RUNNING, SCHEDULED, FINISHED, FAILED or KILLED; fedra's lowercase names too)");
}

nlohmann::json MlflowRun(const nlohmann::json& run) {
  const std::string id = std::to_string(run.value("run_id", int64_t{0}));
  const nlohmann::json start = run.value("start_time", nlohmann::json());
  nlohmann::json info = {
      {"run_id", id},
      {"run_uuid", id},
      {"run_name", run.value("run_name", "")},
      {"experiment_id", std::to_string(run.value("experiment_id", int64_t{0}))},
      {"user_id", run.value("submitted_by", "")},
      {"status", MlflowStatus(run.value("status", ""))},
      {"start_time", Millis(start.is_number() ? start : run.value("creation_time", nlohmann::json()))},
      {"artifact_uri", ""},
      {"lifecycle_stage", "active"}};
  if (run.contains("end_time") && run["end_time"].is_number()) info["end_time"] = Millis(run["end_time"]);
  nlohmann::json metrics = nlohmann::json::array();
  for (const nlohmann::json& p : run.value("metric_points", nlohmann::json::array())) {
    metrics.push_back(
        {{"key", p["key"]}, {"value", p["value"]}, {"timestamp", Millis(p["timestamp"])}, {"step", p["step"]}});
  }
  nlohmann::json tags = run.value("tags", nlohmann::json::object());
  tags["mlflow.runName"] = info["run_name"];
  if (!info["user_id"].get<std::string>().empty()) tags["mlflow.user"] = info["user_id"];
  return {{"info", info},
          {"data",
           {{"metrics", metrics},
            {"params", KeyValueList(run.value("params", nlohmann::json::object()))},
            {"tags", KeyValueList(tags)}}},
          {"inputs", nlohmann::json::object()}};
}

nlohmann::json MlflowExperiment(const nlohmann::json& e) {
  const int64_t created = Millis(e.value("creation_time", nlohmann::json()));
  return {{"experiment_id", std::to_string(e.value("experiment_id", int64_t{0}))},
          {"name", e.value("name", "")},
          {"artifact_location", ""},
          {"lifecycle_stage", "active"},
          {"creation_time", created},
          {"last_update_time", created},
          {"tags", nlohmann::json::array()}};
}

Result<std::vector<FilterClause>> ParseFilter(std::string_view filter) {
  Lexer lex(filter);
  std::vector<FilterClause> clauses;
  while (!lex.AtEnd()) {
    if (!clauses.empty()) {
      const size_t at = lex.position();
      const std::string joiner = Upper(lex.Word());
      if (joiner != "AND") {
        return InvalidArgument("clauses are joined by AND (MLflow's search has no OR): " + lex.Where(at));
      }
    }
    FilterClause c;
    FEDRA_ASSIGN_OR_RETURN(std::tie(c.kind, c.key), lex.Field());
    FEDRA_ASSIGN_OR_RETURN(c.op, lex.Operator());
    FEDRA_ASSIGN_OR_RETURN(c.values, lex.Values(c.op == "IN" || c.op == "NOT IN"));
    clauses.push_back(std::move(c));
  }
  return clauses;
}

Result<OrderClause> ParseOrderBy(std::string_view clause) {
  Lexer lex(clause);
  OrderClause o;
  FEDRA_ASSIGN_OR_RETURN(std::tie(o.kind, o.key), lex.Field());
  if (!lex.AtEnd()) {
    const std::string direction = Upper(lex.Word());
    if (direction != "ASC" && direction != "DESC")
      return InvalidArgument("order_by: expected ASC or DESC in \"" + std::string(clause) + "\"");
    o.ascending = direction == "ASC";
  }
  if (!lex.AtEnd())
    return InvalidArgument("order_by: unexpected text after the direction in \"" + std::string(clause) + "\"");
  return o;
}

Result<nlohmann::json> SearchRuns(const nlohmann::json& runs, const std::vector<FilterClause>& filter,
                                  const std::vector<OrderClause>& order) {
  FEDRA_RETURN_IF_ERROR(CheckClauses(
      filter, order, {"run_id", "run_name", "status", "start_time", "end_time", "user_id", "experiment_id"}));
  return Search(runs, filter, order, [](const nlohmann::json& run) -> Lookup {
    return [&run](const std::string& kind, const std::string& key) -> std::optional<FieldValue> {
      if (kind == "metrics") return FromJson(run["metrics"], key);
      if (kind == "params") return FromJson(run["params"], key);
      if (kind == "tags") {
        if (key == "mlflow.runName") return FieldValue(run.value("run_name", ""));
        if (key == "mlflow.user") return FieldValue(run.value("submitted_by", ""));
        return FromJson(run["tags"], key);
      }
      if (key == "run_id" || key == "experiment_id") return FieldValue(std::to_string(run.value(key, int64_t{0})));
      if (key == "run_name") return FieldValue(run.value("run_name", ""));
      if (key == "user_id") return FieldValue(run.value("submitted_by", ""));
      if (key == "status") return FieldValue(MlflowStatus(run.value("status", "")));
      nlohmann::json t = run.value(key, nlohmann::json());
      if (key == "start_time" && !t.is_number())
        t = run.value("creation_time", nlohmann::json());  // as MlflowRun shows it
      if (!t.is_number()) return std::nullopt;
      return FieldValue(static_cast<double>(Millis(t)));
    };
  });
}

Result<nlohmann::json> SearchExperiments(const nlohmann::json& experiments, const std::vector<FilterClause>& filter,
                                         const std::vector<OrderClause>& order) {
  for (const FilterClause& c : filter) {
    if (c.kind != "attributes")
      return InvalidArgument(c.kind + "." + c.key + ": experiments are searched by name, " +
                             "experiment_id and creation_time");
  }
  FEDRA_RETURN_IF_ERROR(CheckClauses(filter, order, {"name", "experiment_id", "creation_time"}));
  return Search(experiments, filter, order, [](const nlohmann::json& e) -> Lookup {
    return [&e](const std::string& kind, const std::string& key) -> std::optional<FieldValue> {
      if (kind != "attributes") return std::nullopt;
      if (key == "name") return FieldValue(e.value("name", ""));
      if (key == "experiment_id") return FieldValue(std::to_string(e.value("experiment_id", int64_t{0})));
      return FieldValue(static_cast<double>(Millis(e.value("creation_time", nlohmann::json()))));
    };
  });
}

}  // namespace fedra
