#include "master/script/graph.h"

#include <cstdio>
#include <set>

#include "common/logging.h"

namespace fedra::script {
namespace {

// Aggregates kept for reuse, at most (they are small: sums, Gram matrices).
constexpr size_t kComputedBytes = size_t{64} << 20;
// Lineages of nodes that may be gone, kept before they are swept.
constexpr size_t kLiveSweep = 4096;

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// FNV-1a over the shape and the values.
uint64_t Hash(const Matrix& m) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  const int64_t shape[2] = {m.rows(), m.cols()};
  mix(shape, sizeof shape);
  mix(m.data(), sizeof(double) * static_cast<size_t>(m.size()));
  return h;
}

}  // namespace

bool HasLine(const Status& s) { return s.message().rfind("line ", 0) == 0; }

bool IsFederated(const Value& v) {
  const NodePtr* n = std::get_if<NodePtr>(&v);
  return n && (*n)->federated();
}

bool IsPending(const Value& v) {
  const NodePtr* n = std::get_if<NodePtr>(&v);
  return n && (*n)->pending();
}

std::string TypeName(const Value& v) {
  switch (v.index()) {
    case 0: return "nothing";
    case 1: return "number";
    case 2: return "boolean";
    case 3: return "string";
    case 4: return "matrix";
    default: return IsFederated(v) ? "federated matrix" : "matrix";
  }
}

std::string LineageOf(const Matrix& m) { return "m" + Hex(Hash(m)); }

Status Graph::AtLine(SourcePos pos, const Status& s) const {
  if (s.ok() || HasLine(s)) return s;
  const std::string_view text = SourceLine(source_, pos.line);
  std::string message = "line " + std::to_string(pos.line) + ": " + s.message();
  if (!text.empty()) message += "\n  " + std::string(text);
  return Status(s.code(), std::move(message));
}

std::string Graph::StepLineage(const SiteStep& step) const {
  std::string l = std::string(step.instruction.name());
  if (!step.instruction.params().empty()) l += step.instruction.params().dump();
  l += "(" + step.x->lineage;
  if (step.aligned) l += "," + step.aligned->lineage;
  if (step.broadcast) l += "," + LineageOf(*step.broadcast) + (step.slice_rows ? "/rows" : "");
  return l + ")";
}

NodePtr Graph::Leaf(FederatedMatrix matrix, std::string lineage, SourcePos pos) {
  auto n = std::make_shared<Node>();
  n->kind = Node::Kind::kFederated;
  n->pos = pos;
  n->what = "read";
  n->lineage = std::move(lineage);
  n->rows = matrix.rows();
  n->cols = matrix.cols();
  n->parts = matrix.map().parts();
  n->column_names = matrix.column_names();
  n->matrix = std::move(matrix);
  live_[n->lineage] = n;
  return n;
}

NodePtr Graph::Map(SiteStep step, int64_t cols, std::vector<std::string> names, SourcePos pos, std::string what) {
  std::string lineage = StepLineage(step);
  if (auto it = live_.find(lineage); it != live_.end()) {
    if (NodePtr known = it->second.lock()) {
      ++reused_;
      return known;
    }
  }
  auto n = std::make_shared<Node>();
  n->kind = Node::Kind::kFederated;
  n->pos = pos;
  n->what = std::move(what);
  n->lineage = std::move(lineage);
  n->rows = step.x->rows;
  n->cols = cols;
  n->parts = step.x->parts;
  n->column_names = std::move(names);
  n->step = std::move(step);
  live_[n->lineage] = n;
  return n;
}

Value Graph::Aggregate(SiteStep step, int64_t rows, int64_t cols, SourcePos pos, std::string what) {
  std::string lineage = StepLineage(step);
  if (auto it = computed_.find(lineage); it != computed_.end()) {
    ++reused_;
    return it->second;
  }
  if (auto it = live_.find(lineage); it != live_.end()) {
    if (NodePtr known = it->second.lock()) {
      ++reused_;
      return known;
    }
  }
  auto n = std::make_shared<Node>();
  n->pos = pos;
  n->what = std::move(what);
  n->lineage = std::move(lineage);
  n->rows = rows;
  n->cols = cols;
  n->step = std::move(step);
  live_[n->lineage] = n;
  pending_.push_back(n);
  return n;
}

Result<Value> Graph::Defer(std::function<Result<Value>(std::vector<Value>)> compute, std::vector<Value> inputs,
                           SourcePos pos) {
  bool waits = false;
  for (Value& v : inputs) {
    waits = waits || IsPending(v);
    const NodePtr* n = std::get_if<NodePtr>(&v);
    if (n && (*n)->kind == Node::Kind::kLocal && (*n)->value) v = Value(*(*n)->value);
  }
  if (!waits) return compute(std::move(inputs));
  auto n = std::make_shared<Node>();
  n->pos = pos;
  n->compute = std::move(compute);
  n->inputs = std::move(inputs);
  pending_.push_back(n);
  return Value(n);
}

Result<bool> Graph::TryCompute(Node& n) {
  if (n.value) return true;
  if (!n.error.ok()) return n.error;
  if (n.step) return false;
  for (const Value& v : n.inputs) {
    if (!IsPending(v)) continue;
    FEDRA_ASSIGN_OR_RETURN(bool done, TryCompute(*std::get<NodePtr>(v)));
    if (!done) return false;
  }
  std::vector<Value> concrete;
  for (Value& v : n.inputs) {
    const NodePtr* in = std::get_if<NodePtr>(&v);
    concrete.push_back(in && (*in)->kind == Node::Kind::kLocal ? *(*in)->value : v);
  }
  Result<Value> out = n.compute(std::move(concrete));
  n.inputs.clear();
  n.compute = nullptr;
  if (!out.ok()) {
    n.error = AtLine(n.pos, out.status());
    return n.error;
  }
  n.value = std::move(*out);
  return true;
}

Result<Value> Graph::Force(const Value& v) {
  const NodePtr* p = std::get_if<NodePtr>(&v);
  if (!p || (*p)->federated()) return v;
  Node& n = **p;
  while (true) {
    FEDRA_ASSIGN_OR_RETURN(bool done, TryCompute(n));
    if (done) return *n.value;
    FEDRA_RETURN_IF_ERROR(RunPending());
  }
}

Status Graph::RunPending() {
  std::vector<NodePtr> aggregates;
  for (const std::weak_ptr<Node>& w : pending_) {
    NodePtr n = w.lock();
    if (n && n->step) aggregates.push_back(std::move(n));
  }
  if (aggregates.empty()) return Internal("a pending value waits on nothing the sites could compute");
  FEDRA_RETURN_IF_ERROR(RunBatch(aggregates));
  // Compute what the batch unblocked now, so that chains of pending values stay short; a value
  // that fails keeps its error for when it is needed.
  std::vector<std::weak_ptr<Node>> still;
  for (const std::weak_ptr<Node>& w : pending_) {
    NodePtr n = w.lock();
    if (!n) continue;
    Result<bool> done = TryCompute(*n);
    if (done.ok() && !*done) still.push_back(n);
  }
  pending_ = std::move(still);
  if (live_.size() > kLiveSweep) std::erase_if(live_, [](const auto& entry) { return entry.second.expired(); });
  return Status::Ok();
}

Status Graph::RunBatch(const std::vector<NodePtr>& aggregates) {
  // The row-level steps the aggregates need that are not made yet, inputs first.
  std::vector<NodePtr> make;
  std::set<const Node*> seen;
  std::function<void(const NodePtr&)> visit = [&](const NodePtr& n) {
    if (!n || n->matrix || !seen.insert(n.get()).second) return;
    visit(n->step->x);
    visit(n->step->aligned);
    make.push_back(n);
  };
  for (const NodePtr& a : aggregates) {
    visit(a->step->x);
    visit(a->step->aligned);
  }

  struct Tag {
    Node* node;
    bool put;
  };
  SiteRequests requests;
  std::map<std::string, std::vector<Tag>> tags;
  std::map<std::string, std::vector<VarId>> temporaries;
  std::map<const Node*, std::vector<VarId>> made;
  std::map<const Node*, std::vector<std::vector<Request>>> recipe_steps;
  auto var_of = [&](const Node& n, size_t i) { return n.matrix ? n.matrix->map().parts()[i].var : made[&n][i]; };
  auto emit = [&](Node& n, bool aggregate) {
    const SiteStep& s = *n.step;
    std::map<std::string, VarId> shared;  // a whole broadcast: one copy per site
    for (size_t i = 0; i < s.x->parts.size(); ++i) {
      const FederatedPart& part = s.x->parts[i];
      std::vector<VarId> inputs = {var_of(*s.x, i)};
      if (s.aligned) inputs.push_back(var_of(*s.aligned, i));
      std::vector<Request> steps;
      if (s.broadcast) {
        VarId b = 0;
        if (!s.slice_rows && shared.contains(part.site)) {
          b = shared[part.site];
        } else {
          b = fed_.NewVarId();
          Request put = Request::Put(
              b, s.slice_rows ? Matrix(s.broadcast->middleRows(part.range.begin, part.range.size())) : *s.broadcast);
          if (!aggregate) steps.push_back(put);
          requests[part.site].push_back(std::move(put));
          tags[part.site].push_back({&n, true});
          temporaries[part.site].push_back(b);
          if (!s.slice_rows) shared[part.site] = b;
        }
        if (!aggregate && steps.empty()) steps.push_back(Request::Put(b, *s.broadcast));
        inputs.push_back(b);
      }
      VarId out = 0;
      if (!aggregate) {
        out = fed_.NewVarId();
        made[&n].push_back(out);
      }
      requests[part.site].push_back(Request::Run(out, s.instruction, inputs, aggregate));
      tags[part.site].push_back({&n, false});
      ++instructions_;
      if (!aggregate) {
        steps.push_back(requests[part.site].back());
        if (s.broadcast) steps.push_back(Request::Clear({inputs.back()}));
        recipe_steps[&n].push_back(std::move(steps));
      }
    }
  };
  for (const NodePtr& n : make) emit(*n, false);
  for (const NodePtr& a : aggregates) emit(*a, true);
  for (auto& [site, vars] : temporaries) requests[site].push_back(Request::Clear(vars));

  ++batches_;
  SiteResponses responses = fed_.Call(requests);
  auto release_made = [&] {
    for (const NodePtr& n : make) {
      for (size_t i = 0; i < made[n.get()].size(); ++i) fed_.Release(n->parts[i].site, made[n.get()][i]);
    }
  };
  for (auto& [site, result] : responses) {
    const std::vector<Tag>& site_tags = tags[site];
    if (!result.ok()) {
      release_made();
      const Node* first = site_tags.empty() ? aggregates.front().get() : site_tags.front().node;
      return AtLine(first->pos, result.status().WithContext(first->what + ": site '" + site + "'"));
    }
    for (size_t k = 0; k < result->size() && k < site_tags.size(); ++k) {
      const Status& s = (*result)[k].status;
      if (s.ok()) continue;
      release_made();
      const Node* n = site_tags[k].node;
      return AtLine(n->pos, s.WithContext(n->what + ": site '" + site + "'"));
    }
  }

  // Adopt what was made, inputs first, so that each recipe finds its inputs' recipes.
  for (const NodePtr& n : make) {
    std::vector<FederatedPart> parts = n->parts;
    std::vector<std::shared_ptr<const Recipe>> recipes;
    for (size_t i = 0; i < parts.size(); ++i) {
      parts[i].var = made[n.get()][i];
      auto recipe = std::make_shared<Recipe>();
      recipe->var = parts[i].var;
      recipe->what = n->what;
      recipe->steps = std::move(recipe_steps[n.get()][i]);
      bool complete = true;
      for (const NodePtr& in : {n->step->x, n->step->aligned}) {
        if (!in) continue;
        std::shared_ptr<const Recipe> r = fed_.recipes()->Find(parts[i].site, in->matrix->map().parts()[i].var);
        complete = complete && r != nullptr;
        recipe->inputs.push_back(std::move(r));
      }
      recipes.push_back(complete ? std::move(recipe) : nullptr);
    }
    Result<FederationMap> map = FederationMap::Make(n->rows, n->cols, Partitioning::kRow, std::move(parts));
    if (!map.ok()) {
      release_made();
      return AtLine(n->pos, map.status());
    }
    n->matrix = FederatedMatrix::Adopt(fed_, std::move(*map), n->column_names, recipes);
    made.erase(n.get());
  }
  for (const NodePtr& n : make) n->step.reset();

  // The aggregates: each part's answer, combined.
  std::map<std::string, size_t> next;
  std::map<const Node*, Matrix> totals;
  for (const auto& [site, site_tags] : tags) {
    std::vector<Response>& answers = *responses.at(site);
    for (size_t k = 0; k < site_tags.size(); ++k) {
      Node* n = site_tags[k].node;
      if (site_tags[k].put || n->kind != Node::Kind::kLocal) continue;
      Response& r = answers[k];
      if (!r.value) return AtLine(n->pos, DataLoss(n->what + ": site '" + site + "' returned no value"));
      auto [it, first] = totals.try_emplace(n, *r.value);
      if (first) continue;
      if (it->second.rows() != r.value->rows() || it->second.cols() != r.value->cols()) {
        return AtLine(n->pos, DataLoss(n->what + ": the sites returned results of different shapes"));
      }
      const std::optional<Op> op = n->step->instruction.op();
      if (op == Op::kColMins) {
        it->second = it->second.cwiseMin(*r.value);
      } else if (op == Op::kColMaxs) {
        it->second = it->second.cwiseMax(*r.value);
      } else {
        it->second += *r.value;
      }
    }
  }
  for (const NodePtr& a : aggregates) {
    Matrix& total = totals[a.get()];
    if (computed_bytes_ + total.size() * sizeof(double) <= kComputedBytes) {
      computed_bytes_ += total.size() * sizeof(double);
      computed_[a->lineage] = total;
    }
    a->value = std::move(total);
    a->step.reset();
  }
  return Status::Ok();
}

NodePtr Graph::FindLive(const std::string& lineage) const {
  auto it = live_.find(lineage);
  return it == live_.end() ? nullptr : it->second.lock();
}

Status Graph::Finish() {
  pending_.clear();
  live_.clear();
  return fed_.FlushReleases();
}

}  // namespace fedra::script
