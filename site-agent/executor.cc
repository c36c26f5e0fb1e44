#include "site-agent/executor.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "common/config.h"
#include "common/logging.h"
#include "common/version.h"
#include "federated/operations.h"
#include "site-agent/dp_release.h"
#include "site-agent/functions.h"
#include "site-agent/kept_csv.h"
#include "site-agent/kernels.h"
#include "site-agent/row_split.h"
#include "site-agent/support.h"

namespace fedra {
namespace {

uint64_t NewIncarnation() {
  std::random_device device;
  const uint64_t id = (uint64_t{device()} << 32) | device();
  return id == 0 ? 1 : id;  // 0 means "not known" on the wire
}

}  // namespace

Executor::Executor(std::string site_name, const SiteLimits& limits, const Catalog* catalog, SymbolTable* symbols,
                   AuditLog* audit, PrivacyLedger* ledger)
    : site_name_(std::move(site_name)),
      limits_(limits),
      catalog_(catalog),
      symbols_(symbols),
      audit_(audit),
      ledger_(ledger),
      incarnation_(NewIncarnation()) {}

namespace {

constexpr int64_t kMaxAuditEvents = 10000;

// kmeansStep's centres per restart, which the sensitivity of its noised sums depends on (its
// parameters parsed when it ran).
int64_t ClusterCount(const nlohmann::json& params) {
  Result<KMeansStepParams> p = KMeansStepParams::Parse(params);
  return p.ok() ? p->k : 0;
}

// The first input holding protected rows, or nullptr.
const Provenance* ProtectedRows(std::span<const Variable> inputs) {
  for (const Variable& v : inputs) {
    if (v.provenance.protected_rows()) return &v.provenance;
  }
  return nullptr;
}

// Clips each column of a dp-aggregate dataset to its declared bounds and returns them.
Result<std::vector<Interval>> ClipToBounds(const DatasetSpec& spec, const std::vector<std::string>& columns,
                                           Matrix* values) {
  std::vector<Interval> bounds;
  const auto every = spec.dp.bounds.find("*");
  for (size_t j = 0; j < columns.size(); ++j) {
    auto it = spec.dp.bounds.find(columns[j]);
    if (it == spec.dp.bounds.end()) it = every;
    if (it == spec.dp.bounds.end()) {
      return FailedPrecondition("dataset '" + spec.name +
                                "' is dp-aggregate, but the site declares no bounds for its column '" + columns[j] +
                                "' (the data owner sets them in site.json under dp.bounds)");
    }
    const Interval b = it->second;
    auto col = values->col(static_cast<Eigen::Index>(j));
    for (Eigen::Index i = 0; i < col.size(); ++i) {
      if (!(col(i) >= b.lo)) col(i) = b.lo;  // also NaN
      if (!(col(i) <= b.hi)) col(i) = b.hi;
    }
    bounds.push_back(b);
  }
  return bounds;
}

// Requests that change nothing at the site, so their answer can be refused after the fact.
bool ReadsOnly(RequestType type) {
  return type == RequestType::kGet || type == RequestType::kAudit || type == RequestType::kListCatalog ||
         type == RequestType::kDescribe;
}

// About what a response takes on the wire.
uint64_t ResponseBytes(const Response& r) {
  const Matrix* m = r.sent_value();
  const uint64_t value = m ? static_cast<uint64_t>(m->size()) * sizeof(double) : 0;
  return r.meta.dump().size() + value + r.packed.size();
}

}  // namespace

ResponseBatch Executor::Execute(RequestBatch batch, const PeerIdentity& peer) {
  ResponseBatch out;
  out.id = batch.id;
  out.incarnation = incarnation_;
  out.responses.reserve(batch.requests.size());
  uint64_t response_bytes = 0;
  for (Request& q : batch.requests) {
    AuditEvent event;
    event.peer = peer.ToString();
    event.request = std::string(RequestTypeName(q.type));
    if (!q.name.empty()) event.request += " " + q.name;
    Response r;
    try {
      r = Run(q, &event);
    } catch (const std::exception& e) {  // bad_alloc and the like: fail the request, not the site
      r = Response::Error(Internal(std::string("request failed: ") + e.what()));
    }
    if (r.status.ok() && ReadsOnly(q.type)) {
      const uint64_t bytes = ResponseBytes(r);
      if (response_bytes + bytes > limits_.max_response_bytes) {
        r = Response::Error(ResourceExhausted(
            std::string(RequestTypeName(q.type)) + ": the batch's answers would exceed the site's limit of " +
            std::to_string(limits_.max_response_bytes) + " bytes (limits.max_response_bytes); ask for less per batch"));
      } else {
        response_bytes += bytes;
      }
    }
    if (!r.status.ok()) {
      event.outcome = r.status.code() == StatusCode::kPermissionDenied ? AuditOutcome::kRefused : AuditOutcome::kFailed;
      event.reason = r.status.ToString();
      event.bytes_out = 0;
    } else if (r.meta.contains("dp")) {
      event.noise = r.meta["dp"];
    }
    if (q.type != RequestType::kPing) {
      ++requests_;
      if (event.outcome == AuditOutcome::kRefused) ++refused_;
      if (event.outcome == AuditOutcome::kFailed) ++failed_;
      bytes_out_ += event.bytes_out;
      Status s = audit_->Append(event);
      if (!s.ok()) FEDRA_LOG(kError) << s.message();
    }
    out.responses.push_back(std::move(r));
  }
  return out;
}

Response Executor::Run(Request& q, AuditEvent* audit) {
  switch (q.type) {
    case RequestType::kPing:
      // Who answers, and the counters monitoring scrapes (GET /api/v1/metrics at the master).
      return Response{
          Status::Ok(),
          {{"site", site_name_},
           {"incarnation", incarnation_},
           {"requests", requests_.load()},
           {"refused", refused_.load()},
           {"failed", failed_.load()},
           {"bytes_out", bytes_out_.load()},
           {"variables", symbols_->size()},
           {"memory_used_bytes", symbols_->used_bytes()},
           {"training_rows_bytes", float_rows_.bytes()},
           {"uptime_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()}},
          {},
          {}};
    case RequestType::kListCatalog:
      return Response{Status::Ok(),
                      {{"site", site_name_},
                       {"datasets", ListDatasets()},
                       {"variables", symbols_->size()},
                       {"memory_used_bytes", symbols_->used_bytes()},
                       {"memory_budget_bytes", limits_.memory_budget_bytes},
                       {"gpu", train_on_gpu_},
                       {"version", FedraVersion()}},
                      {},
                      {}};
    case RequestType::kRead: return Read(q, audit);
    case RequestType::kPut: audit->variables = {q.output}; return Put(q);
    case RequestType::kGet: return Get(q, audit);
    case RequestType::kExec:
    case RequestType::kCall: return Exec(q, audit);
    case RequestType::kClear: audit->variables = q.inputs; return Clear(q);
    case RequestType::kDescribe: return Describe(q, audit);
    case RequestType::kKeep: return Keep(q, audit);
    case RequestType::kSecureSum: return SecureSum(q, audit);
    case RequestType::kAudit: {
      const auto limit = q.params.find("limit");
      if (limit == q.params.end() || !limit->is_number_integer() || limit->get<int64_t>() < 1 ||
          limit->get<int64_t>() > kMaxAuditEvents) {
        return Response::Error(
            InvalidArgument("audit: params.limit must be an integer in 1.." + std::to_string(kMaxAuditEvents)));
      }
      // A master sees what it asked, not what other masters did.
      Result<std::vector<nlohmann::json>> events =
          audit_->Tail(static_cast<size_t>(limit->get<int64_t>()), audit->peer);
      if (!events.ok()) return Response::Error(events.status());
      return Response{Status::Ok(), {{"site", site_name_}, {"events", *events}}, {}, {}};
    }
  }
  return Response::Error(InvalidArgument("unknown request type"));
}

Result<nlohmann::json> Executor::NoiseTrainingUpdate(const Provenance& provenance, const SecureSumDp& dp, int threshold,
                                                     Matrix* value) {
  // The datasets behind the update; each grants DP training its own budget, charged here.
  std::vector<std::pair<const DatasetSpec*, BudgetSpent>> charged;
  // Replacing one row can move the clipped update anywhere in the ball of radius C: the
  // sensitivity is 2C, so noise of z C costs rho = 1 / (2 (z/2)^2).
  const double rho = 2 / (dp.noise_multiplier * dp.noise_multiplier);
  for (size_t begin = 0; begin < provenance.source.size();) {
    const size_t end = std::min(provenance.source.find(", ", begin), provenance.source.size());
    const std::string dataset = provenance.source.substr(begin, end - begin);
    begin = end + 2;
    Result<const DatasetSpec*> spec = catalog_->Find(dataset);
    if (!spec.ok() || (*spec)->dp_training.epsilon <= 0) {
      return PermissionDenied("dataset '" + dataset +
                              "' grants no budget for DP training (its data owner declares one in site.json: "
                              "\"dp_training\": {\"epsilon\": ..., \"delta\": ...})");
    }
    const DpTrainingBudget& budget = (*spec)->dp_training;
    FEDRA_ASSIGN_OR_RETURN(BudgetSpent spent, ledger_->Spend(dataset, rho, budget.epsilon, budget.delta));
    charged.emplace_back(*spec, spent);
  }
  if (charged.empty()) return PermissionDenied("DP training: the update comes from no dataset of this site");
  const double norm = value->norm();
  if (norm > dp.clip_norm) *value *= dp.clip_norm / norm;
  const double sigma = dp.noise_multiplier * dp.clip_norm / std::sqrt(static_cast<double>(threshold));
  AddGaussianNoise(value, sigma, false);
  const auto& [spec, spent] = charged.front();
  return nlohmann::json{{"dataset", spec->name},
                        {"mechanism", "gaussian (DP-FedAvg share)"},
                        {"noise_multiplier", dp.noise_multiplier},
                        {"clip_norm", dp.clip_norm},
                        {"sigma", sigma},
                        {"epsilon_spent", ZcdpEpsilon(spent.rho, spec->dp_training.delta)},
                        {"epsilon_budget", spec->dp_training.epsilon},
                        {"delta", spec->dp_training.delta},
                        {"releases", spent.releases}};
}

Response Executor::SecureSum(const Request& q, AuditEvent* audit) {
  if (!secure_sum_) {
    return Response::Error(FailedPrecondition(
        "secure sum: this site has no certificate to sign its keys with (the \"tls\" kit in site.json)"));
  }
  const std::string& master = audit->peer;
  Result<nlohmann::json> meta = nlohmann::json::object();
  if (q.name == kSecureSumKeys) {
    meta = secure_sum_->Keys(master, q.params);
    if (meta.ok()) (*meta)["min_rows"] = limits_.min_aggregate_rows;  // what the master checks the total against
  } else if (q.name == kSecureSumShares) {
    meta = secure_sum_->Shares(master, q.params);
  } else if (q.name == kSecureSumConsistency) {
    meta = secure_sum_->Consistency(master, q.params);
  } else if (q.name == kSecureSumUnmask) {
    meta = secure_sum_->Unmask(master, q.params);
  } else if (q.name == kSecureSumMask) {
    if (q.inputs.size() != 1) return Response::Error(InvalidArgument("secure sum mask: takes 1 input"));
    Result<Variable> var = symbols_->Get(q.inputs[0]);
    if (!var.ok()) return Response::Error(var.status());
    audit->variables = q.inputs;
    audit->dataset = var->provenance.source;
    bool secure_only = false;
    if (Status allowed = CheckSecureRelease(var->provenance, limits_.min_aggregate_rows, &secure_only); !allowed.ok())
      return Response::Error(allowed);
    Result<SecureSumMaskParams> params = SecureSumMaskParams::Parse(q.params);
    if (!params.ok()) return Response::Error(params.status());
    nlohmann::json shape = {{"rows", var->value->rows()}, {"cols", var->value->cols()}};
    SecureSumSite::Prepare prepare;
    if (params->dp.enabled()) {
      prepare = [&](int threshold, Matrix* value) -> Status {
        FEDRA_ASSIGN_OR_RETURN(shape["dp"], NoiseTrainingUpdate(var->provenance, params->dp, threshold, value));
        return Status::Ok();
      };
    }
    const std::string secure_dataset = secure_only ? var->provenance.source : std::string();
    Result<Bytes> masked = secure_sum_->Mask(master, q.params, *var->value, secure_dataset, prepare);
    if (!masked.ok()) return Response::Error(masked.status());
    audit->bytes_out = masked->size();
    return Response{Status::Ok(), std::move(shape), {}, std::move(*masked)};
  } else {
    return Response::Error(
        InvalidArgument("secure sum: unknown phase '" + q.name + "' (keys, shares, mask, consistency, unmask)"));
  }
  if (!meta.ok()) return Response::Error(meta.status());
  return Response{Status::Ok(), std::move(*meta), {}, {}};
}

Response Executor::Describe(const Request& q, AuditEvent* audit) {
  audit->dataset = q.name;
  Result<const DatasetSpec*> spec = catalog_->Find(q.name);
  if (!spec.ok()) return Response::Error(spec.status());
  if ((*spec)->privacy == PrivacyLevel::kSecureAggregate) {
    return Response::Error(PermissionDenied("dataset '" + q.name +
                                            "' is secure-aggregate: describe would release this site's own aggregates; "
                                            "its aggregates leave only inside secure sums"));
  }
  Result<nlohmann::json> columns =
      catalog_->Describe(**spec, q.params.value("columns", nlohmann::json()), limits_.min_aggregate_rows);
  if (!columns.ok()) return Response::Error(columns.status());
  return Response{Status::Ok(), {{"columns", std::move(columns).value()}}, {}, {}};
}

Response Executor::Read(const Request& q, AuditEvent* audit) {
  audit->dataset = q.name;
  audit->variables = {q.output};
  std::vector<std::string> columns;
  if (const auto it = q.params.find("columns"); it != q.params.end()) {
    if (!it->is_array()) return Response::Error(InvalidArgument("read: columns must be an array of names"));
    for (const auto& c : *it) {
      if (!c.is_string()) return Response::Error(InvalidArgument("read: columns must be an array of names"));
      columns.push_back(c.get<std::string>());
    }
  }
  if (Result<Variable> existing = symbols_->GetAsHeld(q.output); existing.ok()) {
    return Response::Error(FailedPrecondition("variable " + std::to_string(q.output) + " already exists"));
  }
  Result<const DatasetSpec*> spec = catalog_->Find(q.name);
  if (!spec.ok() && spec.status().code() == StatusCode::kNotFound) {
    if (Result<KeptDataset> kept = symbols_->FindKept(q.name); kept.ok()) return ReadKept(q, *kept, columns, audit);
  }
  if (!spec.ok()) return Response::Error(spec.status());
  auto admit = [this](size_t rows, size_t cols) {
    return symbols_->CheckFits(uint64_t{rows} * cols * sizeof(double))
        .WithContext("reading " + std::to_string(rows) + " x " + std::to_string(cols) + " values");
  };
  const auto transform = q.params.find("transform");
  if (transform != q.params.end() && (*spec)->privacy == PrivacyLevel::kDpAggregate) {
    // The noise is calibrated to the raw columns' declared bounds, not to encoded columns.
    return Response::Error(PermissionDenied("dataset '" + q.name +
                                            "' is dp-aggregate: its rows are read as they are, without a transform "
                                            "(the noise is calibrated to the declared bounds of its raw columns)"));
  }
  Result<CsvTable> table = transform == q.params.end() ? catalog_->Load(**spec, columns, admit)
                                                       : catalog_->LoadEncoded(**spec, columns, *transform, admit);
  if (!table.ok()) return Response::Error(table.status());
  Provenance provenance{(*spec)->privacy, false, 0, q.name, RowSet{q.name, nullptr}, false, {}};
  if ((*spec)->privacy == PrivacyLevel::kDpAggregate) {
    Result<std::vector<Interval>> bounds = ClipToBounds(**spec, table->column_names, &table->values);
    if (!bounds.ok()) return Response::Error(bounds.status());
    provenance.bounds = std::move(bounds).value();
  }
  nlohmann::json meta = {{"rows", table->values.rows()},
                         {"cols", table->values.cols()},
                         {"columns", table->column_names},
                         {"privacy", std::string(PrivacyLevelName((*spec)->privacy))}};
  Response r = Store(q, std::move(table->values), std::move(provenance), false, audit);
  if (r.status.ok()) r.meta = std::move(meta);
  return r;
}

Response Executor::ReadKept(const Request& q, const KeptDataset& kept, const std::vector<std::string>& columns,
                            AuditEvent* audit) {
  if (q.params.contains("transform")) {
    return Response::Error(
        InvalidArgument("dataset '" + q.name + "' was kept from a job and holds numbers: read it without a transform"));
  }
  std::vector<Eigen::Index> picked;
  for (const std::string& c : columns) {
    const auto it = std::find(kept.columns.begin(), kept.columns.end(), c);
    if (it == kept.columns.end()) {
      return Response::Error(NotFound("dataset '" + q.name + "' has no column '" + c + "'"));
    }
    picked.push_back(it - kept.columns.begin());
  }
  const Matrix& all = *kept.var.value;
  Matrix values = columns.empty() ? all : Matrix(all(Eigen::all, picked));
  Provenance p = kept.var.provenance;
  if (!columns.empty() && !p.bounds.empty()) {  // dp-aggregate: each column keeps its own bounds
    std::vector<Interval> bounds;
    for (Eigen::Index j : picked) bounds.push_back(p.bounds.at(static_cast<size_t>(j)));
    p.bounds = std::move(bounds);
  }
  nlohmann::json meta = {{"rows", values.rows()},
                         {"cols", values.cols()},
                         {"columns", columns.empty() ? kept.columns : columns},
                         {"privacy", std::string(PrivacyLevelName(p.level))}};
  Response r = Store(q, std::move(values), p, false, audit);
  if (r.status.ok()) r.meta = std::move(meta);
  return r;
}

nlohmann::json Executor::ListDatasets() const {
  nlohmann::json list = catalog_->List();
  for (const auto& [name, kept] : symbols_->Kept()) {
    const Provenance& p = kept.var.provenance;
    list.push_back({{"name", name},
                    {"format", "kept"},
                    {"origin", p.rows.dataset},
                    {"privacy", std::string(PrivacyLevelName(p.level))},
                    {"rows", kept.var.value->rows()},
                    {"columns", kept.columns},
                    {"types", std::vector<std::string>(kept.columns.size(), "numeric")},
                    {"missing", std::vector<uint64_t>(kept.columns.size(), 0)}});
  }
  return list;
}

Response Executor::Keep(const Request& q, AuditEvent* audit) {
  audit->dataset = q.name;
  audit->variables = q.inputs;
  if (!IsValidDatasetName(q.name)) {
    return Response::Error(InvalidArgument("keep: '" + q.name +
                                           "' is not a dataset name (letters, digits, '_', '-' and '.', at most 128)"));
  }
  if (catalog_->Find(q.name).ok()) {
    return Response::Error(FailedPrecondition(
        "keep: '" + q.name + "' is a dataset of the site's catalog; keep the result under another name"));
  }
  if (q.inputs.size() != 1) return Response::Error(InvalidArgument("keep takes exactly one variable"));
  Result<Variable> var = symbols_->Get(q.inputs[0]);
  if (!var.ok()) return Response::Error(var.status());
  const Provenance& p = var->provenance;
  if (p.aggregate || !p.rows.from_site()) {
    return Response::Error(InvalidArgument("keep: only row-level values made from the site's datasets can be kept"));
  }
  Result<KeptCsv> csv = KeptCsv::Make(q.params, var->value->cols());
  if (!csv.ok()) return Response::Error(csv.status().WithContext("keep"));
  const auto write = q.params.find("write");
  if (write != q.params.end() && !write->is_boolean()) {
    return Response::Error(InvalidArgument("keep: params.write must be true or false"));
  }
  // Checked before the file is written: a refused keep changes nothing.
  if (Status fits = symbols_->CheckKeep(q.name, MatrixBytes(*var->value)); !fits.ok()) {
    return Response::Error(fits.WithContext("keep"));
  }
  nlohmann::json meta = {{"rows", var->value->rows()}, {"cols", var->value->cols()}};
  if (write != q.params.end() && write->get<bool>()) {
    if (output_folder_.empty()) {
      meta["written"] = nullptr;
      meta["not_written"] = "site.json names no output_folder";
    } else {
      std::error_code ec;
      std::filesystem::create_directories(output_folder_, ec);
      const std::string file = q.name + ".csv";
      if (Status s = WriteTextFile(output_folder_ / file, csv->Text(*var->value)); !s.ok()) {
        // The message names the file, never the folder: paths stay at the site.
        return Response::Error(FailedPrecondition("keep: cannot write " + file + " in the site's output folder"));
      }
      meta["written"] = file;
    }
  }
  if (Status s = symbols_->Keep(q.name, KeptDataset{*var, csv->columns}); !s.ok()) {
    return Response::Error(s.WithContext("keep"));
  }
  return Response{Status::Ok(), std::move(meta), {}, {}};
}

Response Executor::Put(Request& q) {
  if (!q.value && !q.float_value) return Response::Error(InvalidArgument("put: no value"));
  // Public, and rows from the master: never combined row by row with protected rows.
  Variable var;
  if (q.float_value) {
    var.floats = std::make_shared<const Eigen::MatrixXf>(std::move(*q.float_value));
  } else {
    var.value = std::make_shared<const Matrix>(std::move(*q.value));
  }
  Status s = symbols_->Insert(q.output, std::move(var));
  return s.ok() ? Response{} : Response::Error(s);
}

Response Executor::Get(const Request& q, AuditEvent* audit) {
  audit->variables = q.inputs;
  if (q.inputs.size() != 1) return Response::Error(InvalidArgument("get takes exactly one variable"));
  Result<Variable> var = symbols_->Get(q.inputs[0]);
  if (!var.ok()) return Response::Error(var.status());
  audit->dataset = var->provenance.source;
  return Release(*var, audit);
}

Response Executor::Exec(const Request& q, AuditEvent* audit) {
  audit->variables = q.inputs;
  audit->variables.push_back(q.output);
  const bool is_call = q.type == RequestType::kCall;
  const OperationInfo* op = is_call ? nullptr : FindOperation(q.name);
  const FunctionInfo* fn = is_call ? FindFunction(q.name) : nullptr;
  if (!op && !fn) {
    return Response::Error(
        NotFound(std::string("unknown ") + (is_call ? "function" : "operation") + " '" + q.name + "'"));
  }
  const int arity = op ? op->arity : fn->arity;
  const int optional = fn ? fn->optional_inputs : 0;
  const int given = static_cast<int>(q.inputs.size());
  if (given < arity || given > arity + optional) {
    return Response::Error(InvalidArgument(q.name + " takes " + std::to_string(arity) +
                                           (optional > 0 ? " to " + std::to_string(arity + optional) : "") +
                                           " input(s), got " + std::to_string(given)));
  }
  std::vector<Variable> vars;
  std::vector<const Matrix*> values;
  std::vector<const Eigen::MatrixXf*> floats;
  std::vector<InputView> views;
  const uint32_t float_inputs = fn ? FloatInputs(fn->code) : 0;
  for (size_t i = 0; i < q.inputs.size(); ++i) {
    const VarId id = q.inputs[i];
    Result<Variable> var = (float_inputs >> i & 1) != 0 ? symbols_->GetAsHeld(id) : symbols_->Get(id);
    if (!var.ok()) return Response::Error(var.status());
    vars.push_back(*var);
    const std::string& source = var->provenance.source;
    if (!source.empty() && audit->dataset.find(source) == std::string::npos) {
      audit->dataset += (audit->dataset.empty() ? "" : ", ") + source;
    }
  }
  for (const Variable& v : vars) {
    values.push_back(v.value.get());
    floats.push_back(v.floats.get());
    views.push_back({&v.provenance, v.rows()});
  }
  const OperationPrivacy& rule = op ? op->privacy : fn->privacy;
  const bool reversed = IsReversed(q.params);
  if (Status s = CheckProtectedInputs(q.name, rule, views, reversed); !s.ok()) return Response::Error(s);
  Result<Provenance> derived = DeriveProvenance(rule, views);
  if (!derived.ok()) return Response::Error(derived.status());
  Provenance provenance = std::move(derived).value();
  const Provenance* rows_in = ProtectedRows(vars);
  const bool dp_rows = rows_in && provenance.level == PrivacyLevel::kDpAggregate;
  const bool aggregate_rows = rows_in && provenance.level == PrivacyLevel::kPrivateAggregate;
  if (dp_rows && provenance.aggregate && rule.dp == DpForm::kNone) {
    return Response::Error(PermissionDenied(DescribeLevel(provenance) + ": " + q.name +
                                            " has no noised form (dp-aggregate rows allow colSums, sum, colSumSq, t(X) "
                                            "%*% X, t(X) %*% Y, moments and kmeansStep)"));
  }
  if (op && rule.effect == RowEffect::kPicksRows) return Split(q, vars[0], std::move(provenance), audit);

  Matrix value;
  Bytes packed;
  nlohmann::json meta = nlohmann::json::object();
  uint64_t support = 0;
  const uint64_t min_rows = aggregate_rows ? std::max<uint64_t>(1, limits_.min_aggregate_rows) : 1;
  if (op) {
    // Charged before computing: a result the budget cannot hold is refused before it is made.
    const uint64_t bound = ResultValuesBound(op->code, values, q.params);
    const uint64_t bytes = bound > UINT64_MAX / sizeof(double) ? UINT64_MAX : bound * sizeof(double);
    if (Status fits = symbols_->CheckFits(bytes); !fits.ok()) return Response::Error(fits.WithContext(q.name));
    Result<Matrix> result = RunOperation(op->code, values, q.params);
    if (!result.ok()) return Response::Error(result.status());
    value = std::move(result).value();
  } else {
    const bool secure_rows = rows_in && provenance.level == PrivacyLevel::kSecureAggregate;
    if ((aggregate_rows || secure_rows) && fn->trains) {
      Result<const DatasetSpec*> spec = catalog_->Find(rows_in->rows.dataset);
      if (!spec.ok() || !(*spec)->allow_training) {
        return Response::Error(PermissionDenied(
            DescribeLevel(provenance) + ": " + q.name +
            " trains or scores a model the master sends, and exact statistics over "
            "batches it sizes can be differenced into rows; the data owner allows it with \"allow_training\": true "
            "for this dataset in site.json (see docs/privacy.md)"));
      }
    }
    FunctionContext context;
    context.float_inputs = floats;
    context.returned_only = q.output == 0 && q.params.value("return", false);
    context.use_gpu = train_on_gpu_;
    if (fn->code == SiteFunction::kTrainLocal) {
      context.float_rows = [this, x = vars[0].value] { return float_rows_.Get(x); };
    } else if (fn->code == SiteFunction::kEvalModel) {
      context.float_rows = [this, x = vars[0].value] { return float_rows_.Get(x, FloatRowsCache::Keep::kIfRoom); };
    }
    context.min_group_rows = min_rows;
    if (aggregate_rows) context.spread = vars[0].spread.get();
    for (size_t i = 0; i < vars.size(); ++i) {
      if (vars[i].provenance.protected_rows() && vars[i].provenance.transformed) context.transformed_inputs |= 1u << i;
    }
    std::vector<uint32_t> cell_of_row;
    if (aggregate_rows && fn->groups_cells && vars[0].provenance.protected_rows()) {
      Result<std::vector<uint32_t>> cells = CellsOf(vars[0].provenance.rows, *values[0], &context.cells);
      if (!cells.ok()) return Response::Error(cells.status());
      cell_of_row = std::move(cells).value();
      context.cell_of_row = cell_of_row;
    }
    Result<FunctionOutput> result = RunFunction(fn->code, values, q.params, context);
    if (!result.ok()) return Response::Error(result.status());
    value = std::move(result->value);
    packed = std::move(result->packed);
    meta = std::move(result->meta);
    support = result->support;
  }
  if (!provenance.aggregate && rows_in && value.rows() != vars[0].value->rows()) {
    // Protected rows keep the row set of input 0, so they must keep its rows, one for one.
    return Response::Error(Internal(q.name + ": a row-level result has " + std::to_string(value.rows()) +
                                    " rows, its input " + std::to_string(vars[0].value->rows())));
  }
  if (provenance.aggregate && aggregate_rows) {
    if (support == 0) {
      std::vector<const std::vector<ColumnSpread>*> spreads;
      for (const Variable& v : vars) spreads.push_back(v.spread.get());
      support = op ? OperationSupport(op->code, values, spreads, min_rows) : values[0]->rows();
    }
    provenance.support = std::min(provenance.support, support);
  }
  if (dp_rows && !provenance.aggregate) {
    std::vector<const std::vector<Interval>*> bounds;
    for (const Variable& v : vars) bounds.push_back(&v.provenance.bounds);
    Result<std::vector<Interval>> propagated = op ? PropagateBounds(op->code, values, bounds, q.params)
                                                  : FailedPrecondition("no bound is known for " + q.name);
    if (propagated.ok() && !std::all_of(propagated->begin(), propagated->end(),
                                        [](const Interval& b) { return std::isfinite(b.lo) && std::isfinite(b.hi); })) {
      propagated = FailedPrecondition("its bounds would not be finite");
    }
    if (!propagated.ok())
      return Response::Error(PermissionDenied(DescribeLevel(provenance) + ": " + propagated.status().message()));
    provenance.bounds = std::move(propagated).value();
  }
  if (dp_rows && provenance.aggregate) {
    // Noise goes on the value: packed bytes made from it before would leave without it.
    if (!packed.empty()) return Response::Error(Internal(q.name + ": a packed result cannot be noised"));
    Result<nlohmann::json> noise = Noise(q, rule, vars, &value);
    if (!noise.ok()) return Response::Error(noise.status());
    provenance.noised = true;
    meta["dp"] = std::move(noise).value();
  }
  meta["rows"] = value.rows();
  meta["cols"] = value.cols();
  const bool return_value = q.params.value("return", false);
  Response r = Store(q, std::move(value), std::move(provenance), return_value, audit);
  if (r.status.ok()) {
    for (auto& [k, v] : meta.items()) r.meta[k] = v;
    if (return_value && !packed.empty()) {  // released under the same rule as the value
      r.value.reset();
      r.held_value.reset();
      r.packed = std::move(packed);
      audit->bytes_out = r.packed.size();
    }
  }
  return r;
}

Response Executor::Split(const Request& q, const Variable& input, Provenance provenance, AuditEvent* audit) {
  Result<SplitRowsParams> split = SplitRowsParams::Parse(q.params);
  if (!split.ok()) return Response::Error(split.status());
  const Provenance& in = input.provenance;
  const Matrix& x = *input.value;
  const bool keyed = in.protected_rows();
  const uint64_t seed = keyed ? ledger_->KeyedSeed(in.rows.dataset, split->seed) : split->seed;
  const bool by_cell = keyed && in.level == PrivacyLevel::kPrivateAggregate;
  std::vector<uint32_t> cell_of_row;
  if (by_cell) {
    uint32_t cells = 0;
    Result<std::vector<uint32_t>> c = CellsOf(in.rows, x, &cells);
    if (!c.ok()) return Response::Error(c.status());
    cell_of_row = std::move(c).value();
  }
  const std::vector<uint32_t> rows = PickRows(static_cast<uint64_t>(x.rows()), *split, seed, cell_of_row);
  // Both sides count: the master can always subtract one from the whole.
  if (by_cell &&
      std::min<uint64_t>(rows.size(), static_cast<uint64_t>(x.rows()) - rows.size()) < limits_.min_aggregate_rows) {
    return Response::Error(PermissionDenied(
        DescribeLevel(in) + ": this split would leave fewer rows than the site's minimum of " +
        std::to_string(limits_.min_aggregate_rows) + " on one side (hold out a fraction further from 0 and 1)"));
  }
  Matrix out(static_cast<Eigen::Index>(rows.size()), x.cols());
  auto positions = std::make_shared<std::vector<uint32_t>>();
  positions->reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    out.row(static_cast<Eigen::Index>(i)) = x.row(rows[i]);
    positions->push_back(in.rows.positions ? (*in.rows.positions)[rows[i]] : rows[i]);
  }
  provenance.rows = RowSet{in.rows.dataset, std::move(positions)};
  provenance.bounds = in.bounds;
  Response r = Store(q, std::move(out), std::move(provenance), q.params.value("return", false), audit);
  if (r.status.ok()) {
    r.meta["rows"] = rows.size();
    r.meta["cols"] = x.cols();
  }
  return r;
}

Result<std::vector<uint32_t>> Executor::CellsOf(const RowSet& rows, const Matrix& x, uint32_t* cells) {
  std::shared_ptr<const RowCells> made;
  {
    // Made under the lock: two requests at once must not group the same rows two ways.
    std::lock_guard lock(cells_mu_);
    std::shared_ptr<const RowCells>& cached = cells_[rows.dataset];
    if (!cached || (!rows.positions && cached->cell_of.size() != static_cast<size_t>(x.rows()))) {
      if (rows.positions) {
        return FailedPrecondition("dataset '" + rows.dataset +
                                  "': these rows were split before the site grouped them; read the dataset again");
      }
      if (cached) FEDRA_LOG(kWarn) << "dataset '" << rows.dataset << "' changed while the site ran: grouping it again";
      cached = std::make_shared<const RowCells>(MakeCells(x, limits_.min_aggregate_rows));
      FEDRA_LOG(kInfo) << "dataset '" << rows.dataset << "': grouped " << x.rows() << " rows into " << cached->count()
                       << " cells for k-means and splits";
    }
    made = cached;
  }
  std::vector<uint32_t> out(static_cast<size_t>(x.rows()));
  for (size_t i = 0; i < out.size(); ++i) {
    const size_t position = rows.positions ? (*rows.positions)[i] : i;
    if (position >= made->cell_of.size()) {
      return FailedPrecondition("dataset '" + rows.dataset + "' changed while the site ran; read it again");
    }
    out[i] = made->cell_of[position];
  }
  *cells = made->count();
  return out;
}

Result<nlohmann::json> Executor::Noise(const Request& q, const OperationPrivacy& rule, std::span<const Variable> inputs,
                                       Matrix* value) {
  const Provenance& rows = *ProtectedRows(inputs);
  FEDRA_ASSIGN_OR_RETURN(const DatasetSpec* spec, catalog_->Find(rows.rows.dataset));
  const DpPolicy& policy = spec->dp;
  double multiplier = policy.noise_multiplier;
  if (const auto it = q.params.find("noise_multiplier"); it != q.params.end()) {
    if (!it->is_number() || !(it->get<double>() >= policy.noise_multiplier) || !(it->get<double>() < 1e6)) {
      return InvalidArgument(q.name + ": params.noise_multiplier may ask for more noise than the dataset's " +
                             std::to_string(policy.noise_multiplier) + ", not less");
    }
    multiplier = it->get<double>();
  }
  const bool cross = rule.dp == DpForm::kCrossProducts && inputs.size() > 1;
  if (cross && !(inputs[1].provenance.protected_rows() && inputs[1].provenance.level == PrivacyLevel::kDpAggregate &&
                 inputs[1].value->rows() == inputs[0].value->rows())) {
    return PermissionDenied(DescribeLevel(rows) + ": " + q.name +
                            " takes a second input of its own rows, whose bounds the noise is calibrated to");
  }
  static const std::vector<Interval> kNoBounds;
  const Matrix* centers = rule.dp == DpForm::kClusterSums ? inputs[1].value.get() : nullptr;
  FEDRA_ASSIGN_OR_RETURN(double sensitivity, ReleaseSensitivity(rule.dp, inputs[0].provenance.bounds,
                                                                cross ? inputs[1].provenance.bounds : kNoBounds,
                                                                centers, centers ? ClusterCount(q.params) : 0));
  const double sigma = multiplier * sensitivity;
  const Status not_finite = PermissionDenied(DescribeLevel(rows) + ": " + q.name +
                                             " would release values or noise that are not finite (operands too large)");
  if (!std::isfinite(sigma) || !value->allFinite()) return not_finite;
  // Gaussian noise of sigma = multiplier x sensitivity costs rho = 1 / (2 multiplier^2) in zCDP.
  const double rho = 1 / (2 * multiplier * multiplier);
  FEDRA_ASSIGN_OR_RETURN(BudgetSpent spent, ledger_->Spend(spec->name, rho, policy.epsilon, policy.delta));
  AddGaussianNoise(value, sigma, rule.dp == DpForm::kCrossProducts && !cross);
  if (!value->allFinite()) return not_finite;  // charged, but nothing leaves
  return nlohmann::json{{"dataset", spec->name},
                        {"mechanism", "gaussian"},
                        {"noise_multiplier", multiplier},
                        {"sensitivity", sensitivity},
                        {"sigma", sigma},
                        {"epsilon_spent", ZcdpEpsilon(spent.rho, policy.delta)},
                        {"epsilon_budget", policy.epsilon},
                        {"delta", policy.delta},
                        {"releases", spent.releases}};
}

Response Executor::Store(const Request& q, Matrix value, Provenance provenance, bool return_value, AuditEvent* audit) {
  Variable var{std::make_shared<const Matrix>(std::move(value)), std::move(provenance), nullptr, nullptr};
  // Mixed values are never summed on private-aggregate data, so they need no spread.
  const Provenance& p = var.provenance;
  if (p.protected_rows() && p.level == PrivacyLevel::kPrivateAggregate && !p.mixed) {
    var.spread = std::make_shared<const std::vector<ColumnSpread>>(SpreadPerColumn(*var.value));
  }
  if (return_value) {
    // Check the release first: a refused request must change nothing.
    Status allowed = CheckRelease(var.provenance, limits_.min_aggregate_rows);
    if (!allowed.ok()) return Response::Error(allowed);
  }
  // Output 0 names no variable: the result is only returned, nothing is stored.
  if (q.output == 0 && !return_value) {
    return Response::Error(InvalidArgument("output variable 0 is only allowed with \"return\""));
  }
  if (q.output != 0) {
    Status s = symbols_->Insert(q.output, var);
    if (!s.ok()) return Response::Error(s);
  }
  return return_value ? Release(var, audit) : Response{};
}

Response Executor::Release(const Variable& var, AuditEvent* audit) {
  Status allowed = CheckRelease(var.provenance, limits_.min_aggregate_rows);
  if (!allowed.ok()) return Response::Error(allowed);
  audit->bytes_out = MatrixBytes(*var.value);
  Response r;
  r.held_value = var.value;  // sent from the symbol table as it lies
  return r;
}

Response Executor::Clear(const Request& q) {
  // Check all first so a clear with one unknown id removes nothing.
  if (!q.params.value("missing_ok", false)) {
    for (VarId id : q.inputs) {
      Result<Variable> var = symbols_->GetAsHeld(id);
      if (!var.ok()) return Response::Error(var.status());
    }
  }
  for (VarId id : q.inputs) (void)symbols_->Erase(id);
  float_rows_.DropGone();  // a cleared variable's float copy goes with it
  return Response{};
}

}  // namespace fedra
