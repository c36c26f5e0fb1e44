// The CUDA path of local training. Activations are kept column-major, one column per row of the
// batch (width x batch), so that a layer is one cuBLAS product with the weights as the
// parameter layout stores them (out x in, column-major).
#include "site-agent/gpu_trainer.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <utility>
#include <vector>

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace fedra {
namespace {

#define FEDRA_CUDA(call)                                                                        \
  do {                                                                                          \
    const cudaError_t fedra_cuda_error = (call);                                                \
    if (fedra_cuda_error != cudaSuccess) {                                                      \
      return Internal(std::string("CUDA: " #call ": ") + cudaGetErrorString(fedra_cuda_error)); \
    }                                                                                           \
  } while (0)

#define FEDRA_CUBLAS(call)                                                                                   \
  do {                                                                                                       \
    const cublasStatus_t fedra_cublas_status = (call);                                                       \
    if (fedra_cublas_status != CUBLAS_STATUS_SUCCESS) {                                                      \
      return Internal(std::string("cuBLAS: " #call ": status ") + std::to_string(int(fedra_cublas_status))); \
    }                                                                                                        \
  } while (0)

// A device allocation that frees itself.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }
  Status Allocate(int64_t n) {
    if (data_) cudaFree(data_);
    data_ = nullptr;
    size_ = n;
    if (n > 0) FEDRA_CUDA(cudaMalloc(reinterpret_cast<void**>(&data_), static_cast<size_t>(n) * sizeof(T)));
    return Status::Ok();
  }
  Status Upload(const T* host, int64_t n, cudaStream_t stream) {
    FEDRA_RETURN_IF_ERROR(Allocate(n));
    if (n > 0) {
      FEDRA_CUDA(cudaMemcpyAsync(data_, host, static_cast<size_t>(n) * sizeof(T), cudaMemcpyHostToDevice, stream));
    }
    return Status::Ok();
  }
  Status Zero(cudaStream_t stream) {
    if (size_ > 0) FEDRA_CUDA(cudaMemsetAsync(data_, 0, static_cast<size_t>(size_) * sizeof(T), stream));
    return Status::Ok();
  }
  T* get() const { return data_; }
  int64_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  int64_t size_ = 0;
};

// Page-locked host memory, which copies to the GPU can read while the host goes on.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (data_) cudaFreeHost(data_);
  }
  Status Allocate(size_t n) {
    if (data_) cudaFreeHost(data_);
    data_ = nullptr;
    FEDRA_CUDA(cudaMallocHost(reinterpret_cast<void**>(&data_), n * sizeof(int32_t)));
    return Status::Ok();
  }
  int32_t* get() const { return data_; }

 private:
  int32_t* data_ = nullptr;
};

// Creating a cuBLAS handle costs milliseconds (it allocates its workspace), and a site trains
// once per round: handles are made once and lent to one training call at a time. They stay for
// the life of the process (destroying them at exit would race the CUDA runtime's own teardown).
class BlasHandles {
 public:
  static Status Take(cublasHandle_t* handle) {
    {
      std::lock_guard<std::mutex> lock(mutex());
      if (!idle().empty()) {
        *handle = idle().back();
        idle().pop_back();
        return Status::Ok();
      }
    }
    FEDRA_CUBLAS(cublasCreate(handle));
    return Status::Ok();
  }
  static void Give(cublasHandle_t handle) {
    std::lock_guard<std::mutex> lock(mutex());
    idle().push_back(handle);
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::vector<cublasHandle_t>& idle() {
    static auto* handles = new std::vector<cublasHandle_t>();  // never destroyed, as above
    return *handles;
  }
};

constexpr int kThreads = 256;
unsigned Blocks(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

__device__ float Activate(int activation, float z) {
  switch (activation) {
    case 0: return z > 0.0f ? z : 0.0f;
    case 1: return tanhf(z);
    default: return 1.0f / (1.0f + expf(-z));
  }
}

__device__ float Slope(int activation, float z, float h) {
  switch (activation) {
    case 0: return z > 0.0f ? 1.0f : 0.0f;
    case 1: return 1.0f - h * h;
    default: return h * (1.0f - h);
  }
}

// out (in x batch) = the rows `index` of x (rows x in, row-major), divided by `scale`.
__global__ void GatherRows(const float* x, int64_t in, const int32_t* index, int batch, float scale, bool divide,
                           float* out) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= in * batch) return;
  const int64_t b = t / in, j = t % in;
  const float v = x[static_cast<int64_t>(index[b]) * in + j];
  out[b * in + j] = divide ? v / scale : v;
}

__global__ void GatherClasses(const int32_t* classes, const int32_t* index, int batch, int32_t* out) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b < batch) out[b] = classes[index[b]];
}

// z (out x batch) += bias per row; h = activation(z) when `h` is given.
__global__ void AddBias(float* z, const float* bias, int out, int batch, int activation, float* h) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= static_cast<int64_t>(out) * batch) return;
  const float v = z[t] + bias[t % out];
  z[t] = v;
  if (h) h[t] = Activate(activation, v);
}

// Softmax and cross-entropy per column; delta = (softmax - one-hot) / batch.
__global__ void SoftmaxCrossEntropy(const float* z, const int32_t* labels, int classes, int batch, float* delta,
                                    float* loss, int32_t* correct) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  const float* col = z + static_cast<int64_t>(b) * classes;
  float top = col[0];
  int best = 0;
  for (int k = 1; k < classes; ++k) {
    if (col[k] > top) {
      top = col[k];
      best = k;
    }
  }
  float total = 0;
  for (int k = 0; k < classes; ++k) total += expf(col[k] - top);
  const int label = labels[b];
  loss[b] = logf(total) + top - col[label];
  correct[b] = best == label;
  float* d = delta + static_cast<int64_t>(b) * classes;
  for (int k = 0; k < classes; ++k) {
    float v = expf(col[k] - top) / total;
    if (k == label) v -= 1.0f;
    d[k] = v / static_cast<float>(batch);
  }
}

// Squared error per column against the rows `index` of targets (rows x outputs, row-major).
__global__ void SquaredError(const float* z, const float* targets, const int32_t* index, int outputs, int batch,
                             float* delta, float* loss) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  float sum = 0;
  for (int k = 0; k < outputs; ++k) {
    const int64_t at = static_cast<int64_t>(b) * outputs + k;
    const float d = z[at] - targets[static_cast<int64_t>(index[b]) * outputs + k];
    sum += d * d;
    delta[at] = d / static_cast<float>(batch);
  }
  loss[b] = 0.5f * sum;
}

// The batch's summed loss and correct predictions, added to the call's totals: one thread sums
// the rows in order, in double. (A block-wide tree was no faster on an H200 at batch 32 or 512.)
__global__ void AddBatchStats(const float* loss, const int32_t* correct, int batch, bool softmax, double* loss_total,
                              long long* correct_total) {
  double sum = 0;
  long long right = 0;
  for (int b = 0; b < batch; ++b) {
    sum += loss[b];
    if (softmax) right += correct[b];
  }
  *loss_total += sum;
  *correct_total += right;
}

// db = the row sums of delta (out x batch).
__global__ void RowSums(const float* delta, int out, int batch, float* db) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= out) return;
  float sum = 0;
  for (int b = 0; b < batch; ++b) sum += delta[static_cast<int64_t>(b) * out + k];
  db[k] = sum;
}

// delta = back * slope(z, h), elementwise.
__global__ void BackThroughActivation(const float* back, const float* z, const float* h, int64_t n, int activation,
                                      float* delta) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) delta[t] = back[t] * Slope(activation, z[t], h[t]);
}

struct StepConstants {
  float lr, momentum, beta1, beta2, epsilon, weight_decay, prox_mu, c1, c2;
  int optimizer;
  bool nesterov, accrue;
};

// The optimizer step of trainer.cc's Optimizer::Step (with FedProx's term first), elementwise.
__global__ void OptimizerStep(float* params, const float* gradient, const float* start, float* first, float* second,
                              float* accrued, int64_t n, StepConstants c) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float g = gradient[i];
  if (c.accrue) {
    accrued[i] += g;
    return;
  }
  const float p = params[i];
  if (c.prox_mu > 0) g += c.prox_mu * (p - start[i]);
  if (c.weight_decay > 0) g += c.weight_decay * p;
  if (c.optimizer == 1) {
    const float m = c.beta1 * first[i] + (1 - c.beta1) * g;
    const float v = c.beta2 * second[i] + (1 - c.beta2) * (g * g);
    first[i] = m;
    second[i] = v;
    params[i] = p - c.lr * (m / c.c1) / (sqrtf(v / c.c2) + c.epsilon);
    return;
  }
  if (c.momentum == 0) {
    params[i] = p - c.lr * g;
    return;
  }
  const float v = c.momentum * first[i] + g;
  first[i] = v;
  params[i] = p - c.lr * (c.nesterov ? g + c.momentum * v : v);
}

class CudaTrainer final : public GpuTrainer {
 public:
  explicit CudaTrainer(GpuTrainingSpec spec) : spec_(std::move(spec)) {}
  ~CudaTrainer() override {
    if (stream_) cudaStreamSynchronize(stream_);  // queued work still reads the buffers
    if (blas_) BlasHandles::Give(blas_);
    for (cudaEvent_t e : copied_) {
      if (e) cudaEventDestroy(e);
    }
    if (stream_) cudaStreamDestroy(stream_);
  }

  Status Init(const float* x, int64_t rows, const int32_t* classes, const float* targets, const float* params,
              int64_t n) {
    FEDRA_CUDA(cudaSetDevice(0));
    FEDRA_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    // A host that is ahead waits on these: it sleeps rather than spinning a core the site's
    // other work could use.
    for (cudaEvent_t& e : copied_) {
      FEDRA_CUDA(cudaEventCreateWithFlags(&e, cudaEventDisableTiming | cudaEventBlockingSync));
    }
    FEDRA_RETURN_IF_ERROR(BlasHandles::Take(&blas_));
    FEDRA_CUBLAS(cublasSetStream(blas_, stream_));
    FEDRA_CUBLAS(cublasSetMathMode(blas_, CUBLAS_PEDANTIC_MATH));  // plain float32, as on the CPU
    n_ = n;
    const int64_t in = spec_.widths.front(), out = spec_.widths.back();
    FEDRA_RETURN_IF_ERROR(x_.Upload(x, rows * in, stream_));
    if (spec_.softmax) {
      FEDRA_RETURN_IF_ERROR(classes_.Upload(classes, rows, stream_));
    } else {
      FEDRA_RETURN_IF_ERROR(targets_.Upload(targets, rows * out, stream_));
    }
    FEDRA_RETURN_IF_ERROR(params_.Upload(params, n, stream_));
    if (spec_.prox_mu > 0) FEDRA_RETURN_IF_ERROR(start_.Upload(params, n, stream_));
    FEDRA_RETURN_IF_ERROR(gradient_.Allocate(n));
    for (DeviceBuffer<float>* b : {&first_, &second_, &accrued_}) {
      FEDRA_RETURN_IF_ERROR(b->Allocate(n));
      FEDRA_RETURN_IF_ERROR(b->Zero(stream_));
    }
    FEDRA_RETURN_IF_ERROR(loss_total_.Allocate(1));
    FEDRA_RETURN_IF_ERROR(loss_total_.Zero(stream_));
    FEDRA_RETURN_IF_ERROR(correct_total_.Allocate(1));
    FEDRA_RETURN_IF_ERROR(correct_total_.Zero(stream_));
    // The caller's arrays may go once this returns.
    FEDRA_CUDA(cudaStreamSynchronize(stream_));
    return Status::Ok();
  }

  Status Step(const int32_t* indices, int batch, float lr) override {
    FEDRA_RETURN_IF_ERROR(Reserve(batch));
    const size_t layers = spec_.widths.size() - 1;
    const int in0 = spec_.widths.front();
    // The indices go through a ring of pinned slots: a slot is refilled once the copy that last
    // read it is done, so the host runs about kSlots batches ahead of the GPU at most.
    const size_t slot = static_cast<size_t>(steps_ % kSlots);
    int32_t* staged = staged_.get() + slot * static_cast<size_t>(batch);
    FEDRA_CUDA(cudaEventSynchronize(copied_[slot]));  // at once if never recorded
    std::copy(indices, indices + batch, staged);
    FEDRA_CUDA(cudaMemcpyAsync(index_.get(), staged, static_cast<size_t>(batch) * sizeof(int32_t),
                               cudaMemcpyHostToDevice, stream_));
    FEDRA_CUDA(cudaEventRecord(copied_[slot], stream_));
    GatherRows<<<Blocks(int64_t{in0} * batch), kThreads, 0, stream_>>>(
        x_.get(), in0, index_.get(), batch, spec_.input_scale, spec_.input_scale != 1, h_[0].get());
    const float one = 1, zero = 0;
    // Forward.
    int64_t at = 0;
    for (size_t l = 0; l < layers; ++l) {
      const int in = spec_.widths[l], out = spec_.widths[l + 1];
      offsets_[l] = at;
      const float* w = params_.get() + at;
      FEDRA_CUBLAS(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_N, out, batch, in, &one, w, out, h_[l].get(), in, &zero,
                               z_[l].get(), out));
      const bool hidden = l + 1 < layers;
      AddBias<<<Blocks(int64_t{out} * batch), kThreads, 0, stream_>>>(
          z_[l].get(), w + int64_t{out} * in, out, batch, spec_.activation, hidden ? h_[l + 1].get() : nullptr);
      at += int64_t{out} * in + out;
    }
    // Loss at the output, and d(mean loss)/d(output).
    const int outputs = spec_.widths.back();
    float* delta = delta_[layers - 1].get();
    if (spec_.softmax) {
      GatherClasses<<<Blocks(batch), kThreads, 0, stream_>>>(classes_.get(), index_.get(), batch, labels_.get());
      SoftmaxCrossEntropy<<<Blocks(batch), kThreads, 0, stream_>>>(z_[layers - 1].get(), labels_.get(), outputs, batch,
                                                                   delta, loss_.get(), correct_.get());
    } else {
      SquaredError<<<Blocks(batch), kThreads, 0, stream_>>>(z_[layers - 1].get(), targets_.get(), index_.get(), outputs,
                                                            batch, delta, loss_.get());
    }
    AddBatchStats<<<1, 1, 0, stream_>>>(loss_.get(), correct_.get(), batch, spec_.softmax, loss_total_.get(),
                                        correct_total_.get());
    // Backward.
    for (size_t l = layers; l-- > 0;) {
      const int in = spec_.widths[l], out = spec_.widths[l + 1];
      float* dw = gradient_.get() + offsets_[l];
      FEDRA_CUBLAS(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_T, out, in, batch, &one, delta_[l].get(), out, h_[l].get(),
                               in, &zero, dw, out));
      RowSums<<<Blocks(out), kThreads, 0, stream_>>>(delta_[l].get(), out, batch, dw + int64_t{out} * in);
      if (l == 0) break;
      FEDRA_CUBLAS(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, in, batch, out, &one, params_.get() + offsets_[l], out,
                               delta_[l].get(), out, &zero, back_.get(), in));
      BackThroughActivation<<<Blocks(int64_t{in} * batch), kThreads, 0, stream_>>>(
          back_.get(), z_[l - 1].get(), h_[l].get(), int64_t{in} * batch, spec_.activation, delta_[l - 1].get());
    }
    ++steps_;
    StepConstants c{lr,
                    spec_.momentum,
                    spec_.beta1,
                    spec_.beta2,
                    spec_.epsilon,
                    spec_.weight_decay,
                    spec_.prox_mu,
                    1 - std::pow(spec_.beta1, static_cast<float>(steps_)),
                    1 - std::pow(spec_.beta2, static_cast<float>(steps_)),
                    spec_.optimizer,
                    spec_.nesterov,
                    spec_.accrue_gradients};
    OptimizerStep<<<Blocks(n_), kThreads, 0, stream_>>>(params_.get(), gradient_.get(), start_.get(), first_.get(),
                                                        second_.get(), accrued_.get(), n_, c);
    FEDRA_CUDA(cudaGetLastError());
    return Status::Ok();
  }

  Status Download(float* params, float* accrued_sum, double* loss_sum, int64_t* correct) override {
    const size_t bytes = static_cast<size_t>(n_) * sizeof(float);
    FEDRA_CUDA(cudaMemcpyAsync(params, params_.get(), bytes, cudaMemcpyDeviceToHost, stream_));
    if (accrued_sum) FEDRA_CUDA(cudaMemcpyAsync(accrued_sum, accrued_.get(), bytes, cudaMemcpyDeviceToHost, stream_));
    // Into members, not locals: an error return before the wait leaves no copy aimed at a dead
    // stack frame (the destructor waits for the stream).
    FEDRA_CUDA(cudaMemcpyAsync(&loss_host_, loss_total_.get(), sizeof loss_host_, cudaMemcpyDeviceToHost, stream_));
    FEDRA_CUDA(
        cudaMemcpyAsync(&correct_host_, correct_total_.get(), sizeof correct_host_, cudaMemcpyDeviceToHost, stream_));
    FEDRA_CUDA(cudaStreamSynchronize(stream_));
    *loss_sum += loss_host_;
    *correct += correct_host_;
    return Status::Ok();
  }

 private:
  static constexpr int64_t kSlots = 4;

  // Per-batch buffers, sized for `batch` columns.
  Status Reserve(int batch) {
    if (batch == batch_) return Status::Ok();
    FEDRA_CUDA(cudaStreamSynchronize(stream_));  // queued batches still use the old buffers
    batch_ = 0;                                  // until every buffer below is in place
    const size_t layers = spec_.widths.size() - 1;
    h_.resize(layers);
    z_.resize(layers);
    delta_.resize(layers);
    offsets_.assign(layers, 0);
    int widest = 0;
    for (size_t l = 0; l < layers; ++l) {
      FEDRA_RETURN_IF_ERROR(h_[l].Allocate(int64_t{spec_.widths[l]} * batch));
      FEDRA_RETURN_IF_ERROR(z_[l].Allocate(int64_t{spec_.widths[l + 1]} * batch));
      FEDRA_RETURN_IF_ERROR(delta_[l].Allocate(int64_t{spec_.widths[l + 1]} * batch));
      widest = std::max(widest, spec_.widths[l]);
    }
    FEDRA_RETURN_IF_ERROR(back_.Allocate(int64_t{widest} * batch));
    FEDRA_RETURN_IF_ERROR(index_.Allocate(batch));
    FEDRA_RETURN_IF_ERROR(labels_.Allocate(batch));
    FEDRA_RETURN_IF_ERROR(loss_.Allocate(batch));
    FEDRA_RETURN_IF_ERROR(correct_.Allocate(batch));
    FEDRA_RETURN_IF_ERROR(staged_.Allocate(static_cast<size_t>(kSlots) * static_cast<size_t>(batch)));
    batch_ = batch;
    return Status::Ok();
  }

  GpuTrainingSpec spec_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cudaEvent_t copied_[kSlots] = {};  // per slot: its last copy to the GPU is done
  PinnedBuffer staged_;              // kSlots slots of batch indices
  int64_t n_ = 0;
  int64_t steps_ = 0;
  int batch_ = 0;
  DeviceBuffer<float> x_, targets_, params_, start_, gradient_, first_, second_, accrued_, back_, loss_;
  DeviceBuffer<int32_t> classes_, index_, labels_, correct_;
  DeviceBuffer<double> loss_total_;
  DeviceBuffer<long long> correct_total_;
  double loss_host_ = 0;  // Download's copies of the totals
  long long correct_host_ = 0;
  std::vector<DeviceBuffer<float>> h_, z_, delta_;  // per layer: input, pre-activation, d loss / d z
  std::vector<int64_t> offsets_;
};

}  // namespace

const GpuProbe& ProbeGpu() {
  static const GpuProbe probe = [] {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return GpuProbe{false, std::string("no usable GPU: ") + cudaGetErrorString(e)};
    if (count == 0) return GpuProbe{false, "no GPU on this machine"};
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess)
      return GpuProbe{false, "no usable GPU: cannot query device 0"};
    return GpuProbe{true, prop.name};
  }();
  return probe;
}

Result<std::unique_ptr<GpuTrainer>> GpuTrainer::Create(const GpuTrainingSpec& spec, const float* x, int64_t rows,
                                                       const int32_t* classes, const float* targets,
                                                       const float* params, int64_t parameter_count) {
  if (!ProbeGpu().available) return Unavailable(ProbeGpu().description);
  auto trainer = std::make_unique<CudaTrainer>(spec);
  FEDRA_RETURN_IF_ERROR(trainer->Init(x, rows, classes, targets, params, parameter_count));
  return std::unique_ptr<GpuTrainer>(std::move(trainer));
}

}  // namespace fedra
