// Local training on the site's GPU (CUDA: cuBLAS for the products, own kernels for the rest),
// with the same math as the CPU path in trainer.cc: float32, the same parameter layout, the same
// batches in the same order, the same optimizer steps. The data and the model are uploaded once
// per training call and stay on the GPU across its batches. Steps are queued on the trainer's own
// stream without waiting for the GPU (a few batches ahead at most); the loss and the correct
// predictions are summed on the GPU and read back with the parameters.
//
// Built when the CUDA toolkit is found (FEDRA_HAVE_CUDA); otherwise every call reports that the
// build has no CUDA. Any CUDA error while probing (no device, no driver, "driver version is
// insufficient") means "no GPU", never a crash.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace fedra {

struct GpuProbe {
  bool available = false;
  std::string description;  // the device's name, or why there is none
};

// Probes once per process; later calls return the first answer.
const GpuProbe& ProbeGpu();

// What the GPU needs to know of the model and optimizer (plain values: no Eigen in CUDA code).
struct GpuTrainingSpec {
  std::vector<int> widths;  // inputs, hidden..., outputs
  int activation = 0;       // 0 relu, 1 tanh, 2 sigmoid (as Activation)
  bool softmax = true;      // else linear output with squared error
  float input_scale = 1;
  int optimizer = 0;  // 0 sgd, 1 adam (as OptimizerKind)
  float momentum = 0, beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f, weight_decay = 0;
  bool nesterov = false;
  float prox_mu = 0;
  bool accrue_gradients = false;
};

class GpuTrainer {
 public:
  // Uploads the rows (row-major floats, rows x widths.front()), the targets (class per row, or
  // row-major floats rows x widths.back()) and the parameters.
  static Result<std::unique_ptr<GpuTrainer>> Create(const GpuTrainingSpec& spec, const float* x, int64_t rows,
                                                    const int32_t* classes, const float* targets, const float* params,
                                                    int64_t parameter_count);
  virtual ~GpuTrainer() = default;

  // Queues one batch: the rows at `indices`, a step at learning rate `lr` (or, accruing, adds
  // the gradient). An error in queued work is reported by Download.
  virtual Status Step(const int32_t* indices, int batch, float lr) = 0;
  // Waits for the queued batches; copies back the parameters, accruing the summed gradients, and
  // adds the batches' summed loss and correct predictions (each measured before its step).
  virtual Status Download(float* params, float* accrued_sum, double* loss_sum, int64_t* correct) = 0;
};

}  // namespace fedra
