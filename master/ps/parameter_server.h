// The federated parameter server: the lecture's worker loop, run for every site at once. Each
// site pulls the current model, trains its next local round (an epoch, or some batches) and
// pushes back its update with its row count; the strategy decides who waits for whom and which
// updates are applied together; the aggregation combines them; the server optimizer applies the
// result.
//
// Faults: a site whose work fails or times out (unreachable, too slow) is dropped, is nobody's
// barrier, and is asked again once the next round is done; the training fails only when fewer
// than `quorum` sites are left, or a site refuses outright (bad settings for its data, privacy).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "master/ps/aggregation.h"
#include "master/ps/checkpoint.h"
#include "master/ps/iteration_hook.h"
#include "master/ps/server_optimizer.h"
#include "master/ps/site_runner.h"
#include "master/ps/update_strategy.h"

namespace fedra {

struct ArrivedUpdate;

// A synchronous round aggregated by secure sum: the master learns only these.
struct SecureRound {
  Eigen::VectorXf step;                        // the aggregate the server optimizer applies (the mean update)
  double rows = 0;                             // rows trained on, over the summed sites
  std::optional<double> loss_sum, correct;     // absent when withheld (DP, or a site withholds)
  std::vector<std::string> summed, recovered;  // sites in the sum; sites lost during it
  double resolution = 0;                       // of the fixed point
  double bytes_up = 0;                         // the masked values received
  std::optional<double> epsilon;               // DP: the (epsilon, delta) spent so far...
  double delta = 0;                            // ...at this delta
};

struct ParameterServerOptions {
  // Rounds to train. Synchronous strategies: aggregations. Asynchronous ones: local rounds per
  // site; a round is done when every site still taking part has delivered that many.
  int64_t rounds = 10;
  int quorum = 1;
  AggregationSpec aggregation;
  // Asynchronous strategies apply one update at a time, scaled by its site's share of all
  // rows, so that one update from every site moves the model as far as one synchronous
  // round does. Empty: equal shares. (Accrued gradients are applied whole, as in async SGD.)
  std::vector<double> site_shares;
  bool gradients = false;  // updates are accrued gradients rather than model deltas
  bool accuracy = false;   // report accuracy (softmax models)
  // Extra metrics of the model after each round (validation loss), merged into its record. It is
  // given the parameters as the next round's work will be (the same object), so that what it
  // sends the sites can serve that work too.
  std::function<Result<nlohmann::json>(const std::shared_ptr<const Eigen::VectorXf>&)> validate;
  IterationHook on_iteration;
  // Set: every synchronous round is one secure sum of the round's updates, which stay at the
  // sites (SiteUpdate::held); per-site statistics are then never seen.
  std::function<Result<SecureRound>(const std::vector<ArrivedUpdate>&)> secure_aggregate;
  // Checkpoints saved after rounds, and the one to go on from (its rounds count towards
  // `rounds`; its parameters replace the initial ones). Null: neither.
  const TrainingRecovery* recovery = nullptr;
};

struct ParameterServerResult {
  Eigen::VectorXf parameters;
  // Per round: loss, accuracy, per-site loss/accuracy/rows, the updates applied, dropped, late
  // and rejoined sites (back after being dropped), bytes down and up, seconds, and the
  // validation metrics.
  std::vector<nlohmann::json> rounds;
};

Result<ParameterServerResult> RunParameterServer(SiteRunner& runner, UpdateStrategy& strategy,
                                                 ServerOptimizer& optimizer, Eigen::VectorXf initial,
                                                 const ParameterServerOptions& options);

// Whether a failed piece of site work means "sit this round out" (unreachable, timed out)
// rather than a refusal that asking again would not change.
bool SitsOut(const Status& status);

}  // namespace fedra
