// The parameter server's sites over the network: one piece of work is one request batch to the
// site holding a part of the training data (put the parameters as floats, unless a validation
// left them there; train, pack the update, clear), sent from its own thread so that sites work
// in parallel and finish in any order.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "federated/site_functions.h"
#include "federated/update_codec.h"
#include "master/federation/recipe_book.h"
#include "master/federation/secure_sum.h"
#include "master/ps/parameter_server.h"
#include "master/ps/site_runner.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

struct SiteTrainingSpec {
  // trainLocal's parameters common to every round: model, optimizer, batch_size, seed, update,
  // prox_mu, epoch_rows. Each round sets where it starts and how far it goes.
  TrainLocalParams train;
  int batches_per_round = 0;  // > 0: a round is this many batches (step s starts at batch s*k)...
  int epochs_per_round = 1;   // ...else this many epochs
  CompressionSpec compression;
  // Each round's updates stay at the sites and are aggregated by one secure sum (SecureAggregate).
  bool secure = false;
  SecureSumOptions secure_sum;  // its threshold, fixed point and DP-FedAvg noise
  // What the sites scale their weighted updates by (WeighUpdateParams::scale).
  double secure_scale = 1;
};

class FederationRunner final : public SiteRunner {
 public:
  // One site per part of `x` (features) and `y` (labels), which must be row-partitioned alike,
  // and one per site of `late` (sites of `fed` that were away when the data was read): before
  // its first work, a late site makes its features and labels from the recipes of the first
  // part's (the same dataset, columns, transform and split), and until it can, its work fails
  // as unavailable, so that it sits the round out and is asked again at the next.
  static Result<std::unique_ptr<FederationRunner>> Create(Federation& fed, const FederatedMatrix& x,
                                                          const FederatedMatrix& y, SiteTrainingSpec spec,
                                                          const std::vector<std::string>& late = {});
  // Waits for work under way; the sites' residuals and what late sites made are released.
  ~FederationRunner() override;

  int sites() const override { return static_cast<int>(parts_.size()); }
  const std::string& site_name(int site) const override { return parts_[static_cast<size_t>(site)].site; }
  // Rows of each site's part.
  int64_t site_rows(int site) const { return parts_[static_cast<size_t>(site)].rows; }
  void Start(SiteWork work) override;
  FinishedWork Next() override;
  double Now() const override;
  // The round's updates (held at their sites) summed securely: FedAvg's weighted mean, or with
  // DP the mean of the clipped, noised updates. The held variables are released.
  Result<SecureRound> SecureAggregate(const std::vector<ArrivedUpdate>& round);
  // Runs `op` on every part of `x` with `parameters` as its broadcast, and keeps them at each
  // training site that took them: the next work on these same parameters there trains from them
  // instead of putting them again (a validation scores the next round's parameters). A site's
  // are released when its next work carries other parameters (under asp, ssp and backup), and
  // what the last call kept and no work took, at the next call.
  Result<std::vector<std::vector<Result<Matrix>>>> RunWithParameters(
      const FederatedMatrix& x, const FederatedMatrix::PartOp& op,
      const std::shared_ptr<const Eigen::VectorXf>& parameters);

 private:
  struct Part {
    std::string site;
    VarId x = 0, y = 0;  // 0: a late site that has not joined yet
    int64_t rows = 0;
    bool joined_late = false;        // x and y are the runner's, made by Join
    VarId residual = 0;              // what compression left out last time (0: none)
    uint64_t residual_restarts = 0;  // the site's restarts when it was kept: a restart loses it
    VarId held = 0;                  // secure aggregation: its last update, until a sum takes it
    std::thread worker;
  };

  FederationRunner(Federation& fed, std::vector<Part> parts, SiteTrainingSpec spec,
                   std::shared_ptr<const Recipe> join_x, std::shared_ptr<const Recipe> join_y);
  Result<SiteUpdate> Work(Part& part, const SiteWork& work);
  // A round under secure aggregation: trains and weighs the update, which stays at the site.
  Result<SiteUpdate> WorkSecurely(Part& part, const SiteWork& work, TrainLocalParams train);
  // Makes a late site's features and labels at it.
  Status Join(Part& part);
  // The parameters encoded as float32, once per model version for every batch.
  std::shared_ptr<const Bytes> EncodedParameters(const std::shared_ptr<const Eigen::VectorXf>& parameters);
  // Parameters kept at a site, the size of their encoding, and the site's restarts when they
  // were put.
  struct Staged {
    VarId var = 0;
    uint64_t bytes = 0;
    uint64_t restarts = 0;
  };
  // The variable `work` trains from at `site`: the staged one, with the size of its encoding (the
  // work's batch uses it; the work then Unstages it), or a new one to put the parameters in. A
  // staged one the work cannot use (other parameters, or the site restarted) is released.
  struct ParametersVar {
    VarId var = 0;
    bool staged = false;
    uint64_t bytes = 0;  // when staged
  };
  ParametersVar ParametersAt(const std::string& site, const SiteWork& work);
  // Adds the put of the work's parameters to `requests` unless they are staged; the size of
  // their encoding either way.
  uint64_t AddPutUnlessStaged(const ParametersVar& at, const SiteWork& work, std::vector<Request>* requests);
  // Lets go of a staged variable: its recipe, and the variable.
  void Unstage(const std::string& site, VarId var);

  Federation& fed_;
  std::vector<Part> parts_;
  const SiteTrainingSpec spec_;
  const std::shared_ptr<const Recipe> join_x_, join_y_;  // what late sites make
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  std::condition_variable finished_cv_;
  std::deque<FinishedWork> finished_;
  std::mutex encoded_mu_;
  std::shared_ptr<const Eigen::VectorXf> encoded_for_;
  std::shared_ptr<const Bytes> encoded_;
  std::mutex staged_mu_;
  std::shared_ptr<const Eigen::VectorXf> staged_for_;
  std::map<std::string, Staged> staged_;
};

}  // namespace fedra
