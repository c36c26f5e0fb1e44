#include "master/script/graph.h"

#include <cctype>
#include <cstdio>

#include <set>
#include "common/digest.h"

#include "common/logging.h"

namespace fedra::script {
namespace {

// Aggregates kept for reuse, at most (they are small: sums, Gram matrices).
constexpr size_t kComputedBytes = size_t{64} << 20;
// Lineages of nodes that may be gone, kept before they are swept.
constexpr size_t kLiveSweep = 4096;

// Steps still to run below a node (0 for one made or computed, or none).
int PendingDepth(const NodePtr& n) { return n ? n->depth : 0; }

}  // namespace

bool HasLine(const Status& s) {
  // "line N: ..." as AtLine writes it.
  const std::string& m = s.message();
  size_t i = 5;
  while (i < m.size() && std::isdigit(static_cast<unsigned char>(m[i]))) ++i;
  return m.rfind("line ", 0) == 0 && i > 5 && i < m.size() && m[i] == ':';
}

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

std::string LineageOf(const Matrix& m) {
  const std::string_view bytes(reinterpret_cast<const char*>(m.data()), sizeof(double) * static_cast<size_t>(m.size()));
  return Sha256Hex(std::to_string(m.rows()) + "x" + std::to_string(m.cols()) + ":" + Sha256Hex(bytes));
}

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
  return Sha256Hex(l + ")");  // a fixed size, however long the chain
}

Result<NodePtr> Graph::Leaf(FederatedMatrix matrix, std::string lineage, SourcePos pos) {
  if (matrix.map().partitioning() != Partitioning::kRow || matrix.transposed()) {
    return InvalidArgument("scripts take row-partitioned federated matrices");
  }
  if (matrix.map().parts().empty()) return FailedPrecondition("no site holds rows of this matrix");
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

Result<Value> Graph::Map(SiteStep step, int64_t cols, std::vector<std::string> names, SourcePos pos, std::string what) {
  if (std::max(PendingDepth(step.x), PendingDepth(step.aligned)) >= kMaxChain) {
    FEDRA_RETURN_IF_ERROR(RunPending({step.x, step.aligned}));
  }
  std::string lineage = StepLineage(step);
  if (auto it = live_.find(lineage); it != live_.end()) {
    if (NodePtr known = it->second.lock()) {
      ++reused_;
      return Value(known);
    }
  }
  auto n = std::make_shared<Node>();
  n->depth = 1 + std::max(PendingDepth(step.x), PendingDepth(step.aligned));
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
  return Value(n);
}

Result<Value> Graph::Aggregate(SiteStep step, int64_t rows, int64_t cols, SourcePos pos, std::string what) {
  if (std::max(PendingDepth(step.x), PendingDepth(step.aligned)) >= kMaxChain || LivePending() >= kMaxPending) {
    FEDRA_RETURN_IF_ERROR(RunPending({step.x, step.aligned}));
  }
  std::string lineage = StepLineage(step);
  if (auto it = computed_.find(lineage); it != computed_.end()) {
    ++reused_;
    return Value(it->second);
  }
  if (auto it = live_.find(lineage); it != live_.end()) {
    if (NodePtr known = it->second.lock()) {
      ++reused_;
      return Value(known);
    }
  }
  auto n = std::make_shared<Node>();
  n->pos = pos;
  n->what = std::move(what);
  n->lineage = std::move(lineage);
  n->rows = rows;
  n->cols = cols;
  n->depth = 1;
  n->step = std::move(step);
  live_[n->lineage] = n;
  pending_.push_back(n);
  return Value(n);
}

Result<Value> Graph::Defer(std::function<Result<Value>(std::vector<Value>)> compute, std::vector<Value> inputs,
                           SourcePos pos) {
  int depth = 0;
  for (const Value& v : inputs) depth = std::max(depth, IsPending(v) ? std::get<NodePtr>(v)->depth : 0);
  for (Value& v : inputs) {
    // Computed values go in as themselves; a chain too long is computed now.
    if (IsPending(v) && (depth >= kMaxChain || LivePending() >= kMaxPending)) {
      FEDRA_ASSIGN_OR_RETURN(v, Force(v));
    }
    const NodePtr* n = std::get_if<NodePtr>(&v);
    if (n && (*n)->kind == Node::Kind::kLocal && (*n)->value) v = Value(*(*n)->value);
  }
  bool waits = false;
  for (const Value& v : inputs) waits = waits || IsPending(v);
  if (!waits) return compute(std::move(inputs));
  auto n = std::make_shared<Node>();
  n->depth = depth + 1;
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
  n.depth = 0;
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

size_t Graph::LivePending() {
  std::erase_if(pending_, [](const std::weak_ptr<Node>& w) { return w.expired(); });
  return pending_.size();
}

Status Graph::RunPending(const std::vector<NodePtr>& also) {
  std::vector<NodePtr> aggregates, make;
  for (const std::weak_ptr<Node>& w : pending_) {
    NodePtr n = w.lock();
    if (n && n->step) aggregates.push_back(std::move(n));
  }
  for (const NodePtr& n : also) {
    if (n && n->step && n->federated()) make.push_back(n);
  }
  if (aggregates.empty() && make.empty()) return Internal("a pending value waits on nothing the sites could compute");
  FEDRA_RETURN_IF_ERROR(RunBatch(aggregates, make));
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

Status Graph::RunBatch(const std::vector<NodePtr>& aggregates, const std::vector<NodePtr>& also) {
  // The row-level steps the aggregates need that are not made yet (and `also`), inputs first.
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
  for (const NodePtr& n : also) visit(n);

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
  SiteResponses responses = fed_.Call(std::move(requests));
  // On failure, nothing this batch made may stay: neither results nor the values sent along.
  auto release_made = [&] {
    for (const NodePtr& n : make) {
      for (size_t i = 0; i < made[n.get()].size(); ++i) fed_.Release(n->parts[i].site, made[n.get()][i]);
    }
    for (const auto& [site, vars] : temporaries) {
      for (VarId v : vars) fed_.Release(site, v);
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
  for (const NodePtr& n : make) {
    n->step.reset();
    n->depth = 0;
  }

  // The aggregates: each part's answer, combined.
  std::map<std::string, size_t> next;
  std::map<const Node*, Matrix> totals;
  for (const auto& [site, site_tags] : tags) {
    std::vector<Response>& answers = *responses.at(site);
    for (size_t k = 0; k < site_tags.size(); ++k) {
      Node* n = site_tags[k].node;
      if (site_tags[k].put || n->kind != Node::Kind::kLocal) continue;
      Response& r = answers[k];
      if (!r.value || r.value->rows() != n->rows || r.value->cols() != n->cols) {
        return AtLine(n->pos, DataLoss(n->what + ": site '" + site + "' did not return a " + std::to_string(n->rows) +
                                       "x" + std::to_string(n->cols) + " value"));
      }
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
    a->depth = 0;
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
