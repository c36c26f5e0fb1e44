#include "master/algorithms/federation_runner.h"

#include "common/float_conversion.h"
#include "common/logging.h"
#include "common/matrix_codec.h"

namespace fedra {

Result<std::unique_ptr<FederationRunner>> FederationRunner::Create(Federation& fed, const FederatedMatrix& x,
                                                                   const FederatedMatrix& y, SiteTrainingSpec spec,
                                                                   const std::vector<std::string>& late) {
  const auto& xp = x.map().parts();
  const auto& yp = y.map().parts();
  if (x.transposed() || y.transposed() || x.map().partitioning() != Partitioning::kRow || xp.size() != yp.size()) {
    return InvalidArgument("training needs features and labels partitioned by rows alike");
  }
  std::vector<Part> parts(xp.size());
  for (size_t i = 0; i < xp.size(); ++i) {
    if (xp[i].site != yp[i].site || xp[i].range.begin != yp[i].range.begin || xp[i].range.end != yp[i].range.end) {
      return InvalidArgument("training needs features and labels partitioned by rows alike");
    }
    parts[i].site = xp[i].site;
    parts[i].x = xp[i].var;
    parts[i].y = yp[i].var;
    parts[i].rows = xp[i].range.size();
  }
  std::shared_ptr<const Recipe> join_x, join_y;
  if (!late.empty() && !xp.empty()) {
    join_x = fed.recipes()->Find(xp[0].site, xp[0].var);
    join_y = fed.recipes()->Find(yp[0].site, yp[0].var);
    if (!join_x || !join_y) {
      FEDRA_LOG(kWarn)
          << "training data that was not read from datasets cannot be made at late sites; going on without them";
    } else {
      for (const std::string& site : late) parts.emplace_back().site = site;
    }
  }
  return std::unique_ptr<FederationRunner>(
      new FederationRunner(fed, std::move(parts), std::move(spec), std::move(join_x), std::move(join_y)));
}

FederationRunner::FederationRunner(Federation& fed, std::vector<Part> parts, SiteTrainingSpec spec,
                                   std::shared_ptr<const Recipe> join_x, std::shared_ptr<const Recipe> join_y)
    : fed_(fed),
      parts_(std::move(parts)),
      spec_(std::move(spec)),
      join_x_(std::move(join_x)),
      join_y_(std::move(join_y)) {}

FederationRunner::~FederationRunner() {
  for (Part& p : parts_) {
    if (p.worker.joinable()) p.worker.join();
    if (p.residual != 0) fed_.Release(p.site, p.residual);
    if (p.held != 0) fed_.Release(p.site, p.held);
    if (!p.joined_late) continue;
    for (VarId v : {p.x, p.y}) {
      fed_.recipes()->Remove(p.site, v);
      fed_.Release(p.site, v);
    }
  }
  for (const auto& [site, s] : staged_) Unstage(site, s.var);
}

Status FederationRunner::Join(Part& part) {
  const auto new_id = [this] { return fed_.NewVarId(); };
  auto x = std::make_shared<Recipe>(Rebuild(*join_x_, fed_.NewVarId(), new_id));
  auto y = std::make_shared<Recipe>(Rebuild(*join_y_, fed_.NewVarId(), new_id));
  SiteRequests batch;
  std::vector<Request>& requests = batch[part.site];
  requests = x->steps;
  requests.insert(requests.end(), y->steps.begin(), y->steps.end());
  SiteResponses responses = fed_.Call(std::move(batch));
  Status joined = FirstError(responses);
  int64_t rows = -1;
  if (joined.ok()) {
    const std::vector<Response>& answers = *responses.at(part.site);
    rows = x->rows < 0 ? -1 : answers[x->rows_step].meta.value("rows", int64_t{-1});
    const int64_t y_rows = y->rows < 0 ? -1 : answers[x->steps.size() + y->rows_step].meta.value("rows", int64_t{-1});
    if (rows <= 0 || rows != y_rows) joined = FailedPrecondition("it holds no rows of the training data");
  }
  if (!joined.ok()) {
    for (VarId v : {x->var, y->var}) fed_.Release(part.site, v);
    // Asked again at the next round, whatever kept it out.
    return Unavailable("could not join: " + joined.message());  // the message names the site
  }
  x->rows = y->rows = rows;
  fed_.recipes()->Add(part.site, x);
  fed_.recipes()->Add(part.site, y);
  part.x = x->var;
  part.y = y->var;
  part.rows = rows;
  part.joined_late = true;
  FEDRA_LOG(kInfo) << "site '" << part.site << "' joined the training late, with " << rows << " rows";
  return Status::Ok();
}

double FederationRunner::Now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void FederationRunner::Start(SiteWork work) {
  Part& part = parts_[static_cast<size_t>(work.site)];
  if (part.worker.joinable()) part.worker.join();  // finished: Next() took its result
  part.worker = std::thread([this, &part, work = std::move(work)] {
    Result<SiteUpdate> update = Internal("site '" + part.site + "': training call failed");
    try {
      update = Work(part, work);
    } catch (const std::exception& e) {  // a bug or bad_alloc: fail this site's work, not the master
      update = Internal("site '" + part.site + "': " + e.what());
    }
    {
      std::lock_guard lock(mu_);
      finished_.push_back(FinishedWork{work, std::move(update)});
    }
    finished_cv_.notify_one();
  });
}

FinishedWork FederationRunner::Next() {
  std::unique_lock lock(mu_);
  finished_cv_.wait(lock, [this] { return !finished_.empty(); });
  FinishedWork f = std::move(finished_.front());
  finished_.pop_front();
  return f;
}

std::shared_ptr<const Bytes> FederationRunner::EncodedParameters(
    const std::shared_ptr<const Eigen::VectorXf>& parameters) {
  std::lock_guard lock(encoded_mu_);
  if (encoded_for_ != parameters) {
    encoded_ = EncodeFloatValue(*parameters);
    encoded_for_ = parameters;  // held, so that no later version can have its address
  }
  return encoded_;
}

Result<std::vector<std::vector<Result<Matrix>>>> FederationRunner::RunWithParameters(
    const FederatedMatrix& x, const FederatedMatrix::PartOp& op,
    const std::shared_ptr<const Eigen::VectorXf>& parameters) {
  // Counted before the puts: a site seen to restart after them has lost them.
  std::map<std::string, uint64_t> restarts;
  for (const Part& p : parts_) restarts[p.site] = fed_.restarts(p.site);
  const std::shared_ptr<const Bytes> encoded = EncodedParameters(parameters);
  std::map<std::string, VarId> kept;
  auto per_part = x.RunOnEachPart(fed_, {op}, encoded, &kept);
  std::map<std::string, Staged> staged;
  for (const auto& [site, var] : kept) {
    const auto before = restarts.find(site);
    if (before == restarts.end()) {  // a site that trains nothing here
      fed_.Release(site, var);
      continue;
    }
    // Like the data, made again at a site that restarts before its work is done with them.
    auto recipe = std::make_shared<Recipe>();
    recipe->var = var;
    recipe->steps = {Request::PutEncoded(var, encoded)};
    recipe->what = "the model's parameters";
    fed_.recipes()->Add(site, std::move(recipe));
    staged[site] = Staged{var, encoded->size(), before->second};
  }
  std::lock_guard lock(staged_mu_);
  for (const auto& [site, s] : staged_) Unstage(site, s.var);  // no work took them
  staged_ = std::move(staged);
  staged_for_ = parameters;
  return per_part;
}

FederationRunner::ParametersVar FederationRunner::ParametersAt(const std::string& site, const SiteWork& work) {
  std::lock_guard lock(staged_mu_);
  if (const auto it = staged_.find(site); it != staged_.end()) {
    const Staged s = it->second;
    staged_.erase(it);
    if (staged_for_ == work.parameters && fed_.restarts(site) == s.restarts) return {s.var, true, s.bytes};
    // The work carries other parameters (the job moved on since the validation), or the site
    // restarted since they were put: they will not be used.
    Unstage(site, s.var);
  }
  return {fed_.NewVarId(), false, 0};
}

uint64_t FederationRunner::AddPutUnlessStaged(const ParametersVar& at, const SiteWork& work,
                                              std::vector<Request>* requests) {
  if (at.staged) return at.bytes;  // sent for the validation before this work
  const std::shared_ptr<const Bytes> encoded = EncodedParameters(work.parameters);
  requests->push_back(Request::PutEncoded(at.var, encoded));
  return encoded->size();
}

void FederationRunner::Unstage(const std::string& site, VarId var) {
  fed_.recipes()->Remove(site, var);
  fed_.Release(site, var);
}

Result<SiteUpdate> FederationRunner::Work(Part& part, const SiteWork& work) {
  if (part.x == 0) FEDRA_RETURN_IF_ERROR(Join(part));
  // A restart lost what compression held back: the site starts afresh without it.
  if (part.residual != 0 && fed_.restarts(part.site) != part.residual_restarts) part.residual = 0;
  TrainLocalParams train = spec_.train;
  if (spec_.batches_per_round > 0) {
    train.batches = spec_.batches_per_round;
    train.first_batch = int64_t{work.step} * spec_.batches_per_round;
  } else {
    train.epochs = spec_.epochs_per_round;
    train.first_epoch = work.step * spec_.epochs_per_round;
  }
  if (spec_.secure) return WorkSecurely(part, work, train);
  const Eigen::Index n = work.parameters->size();
  // The parameters are at the site already when the last round's validation put them there.
  const ParametersVar at = ParametersAt(part.site, work);
  // An update sent as it is (no compression, no clip) comes packed from the training itself;
  // otherwise packUpdate compresses the stored update, keeping what it leaves out.
  const bool packed_by_training = spec_.compression.as_is();
  const VarId params = at.var, update = packed_by_training ? 0 : fed_.NewVarId();
  const VarId residual = spec_.compression.lossy() ? fed_.NewVarId() : 0;
  std::vector<Request> requests;
  const uint64_t bytes_down = AddPutUnlessStaged(at, work, &requests);
  const size_t packed_at = packed_by_training ? requests.size() : requests.size() + 1;
  std::vector<VarId> done = {params};
  if (packed_by_training) {
    train.pack = true;
    requests.push_back(Request::Run(0, train, {part.x, part.y, params}, /*return_value=*/true));
  } else {
    std::vector<VarId> pack_inputs = {update};
    if (part.residual != 0) pack_inputs.push_back(part.residual);
    requests.push_back(Request::Run(update, train, {part.x, part.y, params}));
    requests.push_back(Request::Run(residual, PackUpdateParams{kTrainingStats, spec_.compression}, pack_inputs,
                                    /*return_value=*/true));
    done.push_back(update);
    if (part.residual != 0) done.push_back(part.residual);
  }
  requests.push_back(Request::Release(std::move(done)));
  SiteRequests batch;
  batch[part.site] = std::move(requests);  // moved, not copied: the parameters are megabytes
  SiteResponses responses = fed_.Call(std::move(batch));
  // Kept until the batch is done, so that a site that restarted before it gets them again first;
  // released once more, in case a restore made them anew after the batch released them.
  if (at.staged) Unstage(part.site, params);
  Result<std::vector<Response>>& result = responses.at(part.site);
  const std::string where = "site '" + part.site + "'";
  if (!result.ok()) {
    // The site may or may not have run the batch: whatever it kept goes, and the next round
    // starts without a residual.
    for (VarId v : {part.residual, residual, params, update}) {
      if (v != 0) fed_.Release(part.site, v);
    }
    part.residual = 0;
    return result.status();
  }
  part.residual = residual;  // the old one was cleared with the batch
  part.residual_restarts = fed_.restarts(part.site);
  for (const Response& r : *result) {
    if (!r.status.ok()) {
      part.residual = 0;  // no new one was stored
      return r.status.WithContext(where);
    }
  }
  const Response& packed = (*result)[packed_at];
  if (packed.packed.empty()) {
    return FailedPrecondition(where +
                              " sent no packed update: a site older than this master ignores trainLocal's "
                              "\"pack\" (upgrade the site)");
  }
  FEDRA_ASSIGN_OR_RETURN(UnpackedUpdate unpacked, UnpackUpdate(packed.packed, n));
  if (unpacked.stats.size() != kTrainingStats) return DataLoss(where + ": the update lacks its statistics");
  SiteUpdate u;
  u.values = std::move(unpacked.values);
  u.loss_sum = unpacked.stats[kLossSum];
  u.correct = unpacked.stats[kCorrect];
  u.rows = unpacked.stats[kRowsTrained];
  u.epoch = static_cast<int>(unpacked.stats[kLastEpoch]);
  u.bytes_down = bytes_down;
  u.bytes_up = packed.packed.size();
  return u;
}

Result<SiteUpdate> FederationRunner::WorkSecurely(Part& part, const SiteWork& work, TrainLocalParams train) {
  const ParametersVar at = ParametersAt(part.site, work);
  const VarId params = at.var, held = fed_.NewVarId();
  SiteRequests batch;
  std::vector<Request>& requests = batch[part.site];
  const uint64_t bytes_down = AddPutUnlessStaged(at, work, &requests);
  // The training weighs its update for the sum itself: no double copy of it first.
  train.weigh = WeighUpdateParams{kTrainingStats, !spec_.secure_sum.dp.enabled(), spec_.secure_scale};
  const size_t trained_at = requests.size();
  requests.push_back(Request::Run(held, train, {part.x, part.y, params}));
  requests.push_back(Request::Release({params}));
  SiteResponses responses = fed_.Call(std::move(batch));
  if (at.staged) Unstage(part.site, params);  // as in Work
  Result<std::vector<Response>>& result = responses.at(part.site);
  Status status = result.ok() ? Status::Ok() : result.status();
  for (size_t i = 0; status.ok() && i < result->size(); ++i)
    status = (*result)[i].status.WithContext("site '" + part.site + "'");
  if (status.ok() && !(*result)[trained_at].meta.value("weighed", false)) {
    status = FailedPrecondition("site '" + part.site +
                                "' did not weigh its update: a site older than this master ignores trainLocal's "
                                "\"weigh\" (upgrade the site)");
  }
  if (!status.ok()) {
    for (VarId v : {params, held}) fed_.Release(part.site, v);
    return status;
  }
  // An update no sum took (it came late to a backup round) goes with this batch's successor.
  if (part.held != 0) fed_.Release(part.site, part.held);
  part.held = held;
  SiteUpdate u;
  u.held = held;
  const int64_t epoch_rows = std::max<int64_t>(1, train.epoch_rows > 0 ? train.epoch_rows : part.rows);
  u.epoch = static_cast<int>(train.batches > 0 ? (train.first_batch + train.batches - 1) * train.batch_size / epoch_rows
                                               : train.first_epoch + train.epochs - 1);
  u.bytes_down = bytes_down;
  return u;
}

Result<SecureRound> FederationRunner::SecureAggregate(const std::vector<ArrivedUpdate>& round) {
  std::map<std::string, VarId> vars;
  std::map<std::string, int64_t> rows;
  for (const ArrivedUpdate& a : round) {
    Part& part = parts_[static_cast<size_t>(a.site)];
    vars[part.site] = a.update.held;
    rows[part.site] = part.rows;
    if (part.held == a.update.held) part.held = 0;  // released below
  }
  Result<SecureSumResult> sum = SecureSum(fed_, vars, spec_.secure_sum);
  for (const auto& [site, var] : vars) fed_.Release(site, var);
  if (!sum.ok()) return sum.status();
  SecureRound out;
  out.summed = sum->summed;
  out.recovered = sum->recovered;
  out.recovered.insert(out.recovered.end(), sum->left_out.begin(), sum->left_out.end());
  out.resolution = sum->resolution;
  out.bytes_up = static_cast<double>(sum->bytes_up);
  const auto total = sum->sum.col(0);  // a view: the sum is model-sized
  if (spec_.secure_sum.dp.enabled()) {
    // DP-FedAvg: the unweighted mean of the clipped updates; the rows are the sites' own counts,
    // which the master knows anyway, and loss and accuracy are withheld: they are not noised.
    out.step.resize(total.size());
    NarrowToFloat(std::span(total.data(), static_cast<size_t>(total.size())), out.step.data(),
                  1 / static_cast<double>(out.summed.size()));
    for (const std::string& site : out.summed) out.rows += static_cast<double>(rows[site]);
    return out;
  }
  const Eigen::Index n = total.size() - kWeighedStats;
  if (n < 0) return DataLoss("the secure sum of the round's updates is too short");
  if (!(total(n + kWeighedRows) > 0)) return DataLoss("the secure sum of the round's updates covers no rows");
  out.step.resize(n);
  NarrowToFloat(std::span(total.data(), static_cast<size_t>(n)), out.step.data(), 1 / total(n + kWeighedRows));
  // The sites scaled all but the withheld flag.
  const double unscale = 1 / spec_.secure_scale;
  out.rows = total(n + kWeighedRows) * unscale;
  out.loss_sum = total(n + kWeighedLoss) * unscale;
  if (total(n + kWeighedWithheld) < 0.5) out.correct = total(n + kWeighedCorrect) * unscale;
  return out;
}

}  // namespace fedra
