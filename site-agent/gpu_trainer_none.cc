// Built without the CUDA toolkit: no GPU, ever.
#include "site-agent/gpu_trainer.h"

namespace fedra {

const GpuProbe& ProbeGpu() {
  static const GpuProbe probe{false, "this build has no CUDA support (nvcc was not found)"};
  return probe;
}

Result<std::unique_ptr<GpuTrainer>> GpuTrainer::Create(const GpuTrainingSpec&, const float*, int64_t, const int32_t*,
                                                       const float*, const float*, int64_t) {
  return Unavailable(ProbeGpu().description);
}

}  // namespace fedra
