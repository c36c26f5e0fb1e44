// Site-local training (float32): forward and backward passes of the multi-layer perceptrons in
// federated/model_spec.h, and a run of local batches or epochs with seeded per-epoch
// shuffling, on the CPU (Eigen) or on the GPU (gpu_trainer.h) with the same math. The parameter server (master) sends
// parameters in and gets them back; everything here works on one site's rows.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <Eigen/Core>

#include "common/matrix.h"
#include "common/status.h"
#include "federated/model_spec.h"
#include "federated/optimizer.h"

namespace fedra {

using MatrixF = Eigen::MatrixXf;
using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The site's rows as row-major floats, as training reads them: a batch gathers whole rows, each
// one contiguous.
RowMajorF RowMajorFloat(const Matrix& x);
// Gives RowMajorFloat(x) for the rows a training call is given, made or kept by the caller.
using FloatRowsSource = std::function<std::shared_ptr<const RowMajorF>()>;

// Targets of a batch: class indices (softmax) or target rows (linear).
struct Targets {
  Eigen::VectorXi classes;
  MatrixF values;
};

struct BatchStats {
  double loss_sum = 0;  // summed over the batch's rows (mean loss = loss_sum / rows)
  int64_t correct = 0;  // softmax: rows whose top class is the label
  int64_t rows = 0;
};

class Mlp {
 public:
  explicit Mlp(ModelSpec spec) : spec_(std::move(spec)), widths_(spec_.widths()) {}
  const ModelSpec& spec() const { return spec_; }

  // Loss statistics of `x` (rows x inputs) against `targets`; with `gradient`, also the gradient
  // of the mean loss with respect to `params`.
  BatchStats Run(const Eigen::VectorXf& params, const MatrixF& x, const Targets& targets,
                 Eigen::VectorXf* gradient) const;

  // Run's statistics over every row of `x`, row-major as a site keeps its rows as floats: read
  // where they lie, with no column-major copy.
  BatchStats Score(const Eigen::Ref<const Eigen::VectorXf>& params, const RowMajorF& x, const Targets& targets) const;

  // The output layer for each row of `x`: the logits of a softmax model, the values of a linear one.
  MatrixF Outputs(const Eigen::VectorXf& params, const MatrixF& x) const;

 private:
  // Each layer's pre-activation z[l] and output h[l + 1] (h[0]: the scaled input, left empty when
  // `rows_as_columns`: x then holds one row per column, as row-major rows lie); returns each
  // layer's offset into `params`.
  std::vector<int64_t> Forward(const Eigen::Ref<const Eigen::VectorXf>& params, const Eigen::Ref<const MatrixF>& x,
                               bool rows_as_columns, std::vector<MatrixF>* z, std::vector<MatrixF>* h) const;
  // Loss statistics of the output layer against `targets`, and, with `delta`, d (summed loss) /
  // d output (scoring needs only the statistics).
  BatchStats Loss(const MatrixF& outputs, const Targets& targets, MatrixF* delta) const;

  ModelSpec spec_;
  std::vector<int> widths_;
};

struct LocalTrainingOptions {
  int epochs = 1;   // passes over the rows...
  int batches = 0;  // ...or, when > 0, exactly this many batches
  int batch_size = 32;
  uint64_t seed = 1;  // epoch e shuffles with seed + e
  // Where this call starts in the site's sequence of batches, so that calls in a row (one per
  // round) walk the same shuffled epochs one long local training would: at epoch first_epoch
  // (epochs mode) or at batch first_batch (batches mode).
  int first_epoch = 0;
  int64_t first_batch = 0;
  // Rows in one epoch: 0 for the site's own rows; fewer subsamples them (a fresh sample every
  // epoch), more replicates them (whole shuffled passes, then part of one), so that sites of
  // different sizes can train on equal shares.
  int64_t epoch_rows = 0;
  // FedProx: mu/2 * |params - start|^2 is added to the loss, keeping a site near the model it
  // was sent.
  float prox_mu = 0;
  // Gradient accrual: no local steps; the mean gradient of the batches at `params` is returned.
  bool accrue_gradients = false;
  // Train on this machine's GPU (site-agent/gpu_trainer.h) with the same math; fails with
  // kUnavailable when there is none.
  bool use_gpu = false;
  // Where RowMajorFloat(x) comes from when the caller keeps it (float_rows_cache.h), asked once
  // the call's settings and data have been checked; empty: each call makes it.
  FloatRowsSource float_rows;
};

struct LocalTrainingResult {
  Eigen::VectorXf params;   // after the local steps (accrual: unchanged)
  Eigen::VectorXf accrued;  // accrual: the batches' mean gradient
  BatchStats stats;         // over the batches trained, each measured before its step
  int batches = 0;
  int last_epoch = 0;  // the epoch of the last batch (learning-rate schedules follow it)
};

// Trains from `params` on rows `x` with `targets`. Errors name what does not fit (shapes, a
// batch size larger than the rows, labels outside the classes).
Result<LocalTrainingResult> TrainLocal(const Mlp& model, const OptimizerSpec& optimizer,
                                       const LocalTrainingOptions& options, const Matrix& x, const Matrix& y,
                                       Eigen::VectorXf params);

// Whether every value of the one-column `y` is a class code 0..classes-1 (a whole number in range).
bool AreClassCodes(const Matrix& y, double classes);

// Converts a label column (softmax: integers 0..outputs-1) or target columns (linear).
Result<Targets> MakeTargets(const ModelSpec& spec, const Matrix& y);

}  // namespace fedra
