#include "site-agent/executor.h"

#include "common/logging.h"
#include "federated/operations.h"
#include "site-agent/functions.h"
#include "site-agent/kernels.h"

namespace fedra {

Executor::Executor(std::string site_name, const SiteLimits& limits, const Catalog* catalog,
                   SymbolTable* symbols, AuditLog* audit)
    : site_name_(std::move(site_name)),
      limits_(limits),
      catalog_(catalog),
      symbols_(symbols),
      audit_(audit) {}

namespace {
constexpr int64_t kMaxAuditEvents = 10000;
}  // namespace

ResponseBatch Executor::Execute(const RequestBatch& batch, const PeerIdentity& peer) {
  ResponseBatch out;
  out.id = batch.id;
  out.responses.reserve(batch.requests.size());
  for (const Request& q : batch.requests) {
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
    if (!r.status.ok()) {
      event.allowed = r.status.code() != StatusCode::kPermissionDenied;
      event.reason = r.status.ToString();
      event.bytes_out = 0;
    }
    if (q.type != RequestType::kPing) {
      Status s = audit_->Append(event);
      if (!s.ok()) FEDRA_LOG(kError) << s.message();
    }
    out.responses.push_back(std::move(r));
  }
  return out;
}

Response Executor::Run(const Request& q, AuditEvent* audit) {
  switch (q.type) {
    case RequestType::kPing:
      return Response{Status::Ok(), {{"site", site_name_}}, {}, {}};
    case RequestType::kListCatalog:
      return Response{Status::Ok(),
                      {{"site", site_name_},
                       {"datasets", catalog_->List()},
                       {"variables", symbols_->size()},
                       {"memory_used_bytes", symbols_->used_bytes()},
                       {"memory_budget_bytes", limits_.memory_budget_bytes},
                       {"gpu", train_on_gpu_}},
                      {},
                      {}};
    case RequestType::kRead:
      return Read(q, audit);
    case RequestType::kPut:
      audit->variables = {q.output};
      return Put(q);
    case RequestType::kGet:
      return Get(q, audit);
    case RequestType::kExec:
    case RequestType::kCall:
      return Exec(q, audit);
    case RequestType::kClear:
      audit->variables = q.inputs;
      return Clear(q);
    case RequestType::kAudit: {
      const auto limit = q.params.find("limit");
      if (limit == q.params.end() || !limit->is_number_integer() || limit->get<int64_t>() < 1 ||
          limit->get<int64_t>() > kMaxAuditEvents) {
        return Response::Error(InvalidArgument("audit: params.limit must be an integer in 1.." +
                                               std::to_string(kMaxAuditEvents)));
      }
      Result<std::vector<nlohmann::json>> events = audit_->Tail(static_cast<size_t>(limit->get<int64_t>()));
      if (!events.ok()) return Response::Error(events.status());
      return Response{Status::Ok(), {{"site", site_name_}, {"events", *events}}, {}, {}};
    }
  }
  return Response::Error(InvalidArgument("unknown request type"));
}

Response Executor::Read(const Request& q, AuditEvent* audit) {
  audit->dataset = q.name;
  audit->variables = {q.output};
  Result<const DatasetSpec*> spec = catalog_->Find(q.name);
  if (!spec.ok()) return Response::Error(spec.status());
  std::vector<std::string> columns;
  if (const auto it = q.params.find("columns"); it != q.params.end()) {
    if (!it->is_array()) return Response::Error(InvalidArgument("read: columns must be an array of names"));
    for (const auto& c : *it) {
      if (!c.is_string()) return Response::Error(InvalidArgument("read: columns must be an array of names"));
      columns.push_back(c.get<std::string>());
    }
  }
  if (Result<Variable> existing = symbols_->Get(q.output); existing.ok()) {
    return Response::Error(FailedPrecondition("variable " + std::to_string(q.output) + " already exists"));
  }
  Result<CsvTable> table = catalog_->Load(**spec, columns, [this](size_t rows, size_t cols) {
    return symbols_->CheckFits(uint64_t{rows} * cols * sizeof(double))
        .WithContext("reading " + std::to_string(rows) + " x " + std::to_string(cols) + " values");
  });
  if (!table.ok()) return Response::Error(table.status());
  nlohmann::json meta = {{"rows", table->values.rows()},
                         {"cols", table->values.cols()},
                         {"columns", table->column_names},
                         {"privacy", std::string(PrivacyLevelName((*spec)->privacy))}};
  Provenance provenance{(*spec)->privacy, 0, q.name};
  Response r = Store(q, std::move(table->values), provenance, false, audit);
  if (r.status.ok()) r.meta = std::move(meta);
  return r;
}

Response Executor::Put(const Request& q) {
  if (!q.value) return Response::Error(InvalidArgument("put: no value"));
  Variable var{std::make_shared<const Matrix>(*q.value), Provenance{}};
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
    return Response::Error(NotFound(std::string("unknown ") + (is_call ? "function" : "operation") +
                                    " '" + q.name + "'"));
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
  std::vector<Provenance> provenances;
  std::vector<uint64_t> rows;
  for (VarId id : q.inputs) {
    Result<Variable> var = symbols_->Get(id);
    if (!var.ok()) return Response::Error(var.status());
    vars.push_back(*var);
    values.push_back(var->value.get());
    provenances.push_back(var->provenance);
    rows.push_back(static_cast<uint64_t>(var->value->rows()));
    if (!var->provenance.source.empty() && audit->dataset.find(var->provenance.source) == std::string::npos) {
      audit->dataset += (audit->dataset.empty() ? "" : ", ") + var->provenance.source;
    }
  }
  const bool aggregates = op ? op->aggregates_rows : fn->aggregates_rows;
  Provenance provenance = DeriveProvenance(provenances, rows, aggregates);
  Matrix value;
  Bytes packed;
  nlohmann::json meta = nlohmann::json::object();
  if (op) {
    Result<Matrix> result = RunOperation(*op, values, q.params);
    if (!result.ok()) return Response::Error(result.status());
    value = std::move(result).value();
  } else {
    FunctionContext context;
    context.use_gpu = train_on_gpu_;
    if (provenance.level == PrivacyLevel::kPrivateAggregate) context.min_group_rows = std::max<uint64_t>(1, limits_.min_aggregate_rows);
    Result<FunctionOutput> result = fn->run(values, q.params, context);
    if (!result.ok()) return Response::Error(result.status());
    value = std::move(result->value);
    packed = std::move(result->packed);
    meta = std::move(result->meta);
    if (result->smallest_group_rows > 0 && provenance.level != PrivacyLevel::kPublic) {
      provenance.aggregated_rows = std::min(provenance.aggregated_rows, result->smallest_group_rows);
    }
  }
  meta["rows"] = value.rows();
  meta["cols"] = value.cols();
  const bool return_value = q.params.value("return", false);
  Response r = Store(q, std::move(value), provenance, return_value, audit);
  if (r.status.ok()) {
    for (auto& [k, v] : meta.items()) r.meta[k] = v;
    if (return_value && !packed.empty()) {  // released under the same rule as the value
      r.value.reset();
      r.packed = std::move(packed);
      audit->bytes_out = r.packed.size();
    }
  }
  return r;
}

Response Executor::Store(const Request& q, Matrix value, Provenance provenance, bool return_value,
                         AuditEvent* audit) {
  Variable var{std::make_shared<const Matrix>(std::move(value)), std::move(provenance)};
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
  return Response{Status::Ok(), {}, *var.value, {}};
}

Response Executor::Clear(const Request& q) {
  // Check all first so a clear with one unknown id removes nothing.
  if (!q.params.value("missing_ok", false)) {
    for (VarId id : q.inputs) {
      Result<Variable> var = symbols_->Get(id);
      if (!var.ok()) return Response::Error(var.status());
    }
  }
  for (VarId id : q.inputs) (void)symbols_->Erase(id);
  return Response{};
}

}  // namespace fedra
