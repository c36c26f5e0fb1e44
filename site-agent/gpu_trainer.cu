// The CUDA path of local training. Activations are kept column-major, one column per row of the
// batch (width x batch), so that a layer is one cuBLAS product with the weights as the
// parameter layout stores them (out x in, column-major).
#include "site-agent/gpu_trainer.h"

#include <algorithm>
#include <cmath>
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
  Status Upload(const T* host, int64_t n) {
    FEDRA_RETURN_IF_ERROR(Allocate(n));
    if (n > 0) FEDRA_CUDA(cudaMemcpy(data_, host, static_cast<size_t>(n) * sizeof(T), cudaMemcpyHostToDevice));
    return Status::Ok();
  }
  Status Zero() {
    if (size_ > 0) FEDRA_CUDA(cudaMemset(data_, 0, static_cast<size_t>(size_) * sizeof(T)));
    return Status::Ok();
  }
  T* get() const { return data_; }
  int64_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  int64_t size_ = 0;
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
    if (blas_) cublasDestroy(blas_);
  }

  Status Init(const float* x, int64_t rows, const int32_t* classes, const float* targets, const float* params,
              int64_t n) {
    FEDRA_CUDA(cudaSetDevice(0));
    FEDRA_CUBLAS(cublasCreate(&blas_));
    FEDRA_CUBLAS(cublasSetMathMode(blas_, CUBLAS_PEDANTIC_MATH));  // plain float32, as on the CPU
    n_ = n;
    const int64_t in = spec_.widths.front(), out = spec_.widths.back();
    FEDRA_RETURN_IF_ERROR(x_.Upload(x, rows * in));
    if (spec_.softmax) {
      FEDRA_RETURN_IF_ERROR(classes_.Upload(classes, rows));
    } else {
      FEDRA_RETURN_IF_ERROR(targets_.Upload(targets, rows * out));
    }
    FEDRA_RETURN_IF_ERROR(params_.Upload(params, n));
    if (spec_.prox_mu > 0) FEDRA_RETURN_IF_ERROR(start_.Upload(params, n));
    FEDRA_RETURN_IF_ERROR(gradient_.Allocate(n));
    for (DeviceBuffer<float>* b : {&first_, &second_, &accrued_}) {
      FEDRA_RETURN_IF_ERROR(b->Allocate(n));
      FEDRA_RETURN_IF_ERROR(b->Zero());
    }
    return Status::Ok();
  }

  Status Step(const int32_t* indices, int batch, float lr, double* loss_sum, int64_t* correct) override {
    FEDRA_RETURN_IF_ERROR(Reserve(batch));
    const size_t layers = spec_.widths.size() - 1;
    const int in0 = spec_.widths.front();
    FEDRA_CUDA(cudaMemcpy(index_.get(), indices, static_cast<size_t>(batch) * sizeof(int32_t), cudaMemcpyHostToDevice));
    GatherRows<<<Blocks(int64_t{in0} * batch), kThreads>>>(x_.get(), in0, index_.get(), batch, spec_.input_scale,
                                                           spec_.input_scale != 1, h_[0].get());
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
      AddBias<<<Blocks(int64_t{out} * batch), kThreads>>>(z_[l].get(), w + int64_t{out} * in, out, batch,
                                                          spec_.activation, hidden ? h_[l + 1].get() : nullptr);
      at += int64_t{out} * in + out;
    }
    // Loss at the output, and d(mean loss)/d(output).
    const int outputs = spec_.widths.back();
    float* delta = delta_[layers - 1].get();
    if (spec_.softmax) {
      GatherClasses<<<Blocks(batch), kThreads>>>(classes_.get(), index_.get(), batch, labels_.get());
      SoftmaxCrossEntropy<<<Blocks(batch), kThreads>>>(z_[layers - 1].get(), labels_.get(), outputs, batch, delta,
                                                       loss_.get(), correct_.get());
    } else {
      SquaredError<<<Blocks(batch), kThreads>>>(z_[layers - 1].get(), targets_.get(), index_.get(), outputs, batch,
                                                delta, loss_.get());
    }
    // Backward.
    for (size_t l = layers; l-- > 0;) {
      const int in = spec_.widths[l], out = spec_.widths[l + 1];
      float* dw = gradient_.get() + offsets_[l];
      FEDRA_CUBLAS(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_T, out, in, batch, &one, delta_[l].get(), out, h_[l].get(),
                               in, &zero, dw, out));
      RowSums<<<Blocks(out), kThreads>>>(delta_[l].get(), out, batch, dw + int64_t{out} * in);
      if (l == 0) break;
      FEDRA_CUBLAS(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, in, batch, out, &one, params_.get() + offsets_[l], out,
                               delta_[l].get(), out, &zero, back_.get(), in));
      BackThroughActivation<<<Blocks(int64_t{in} * batch), kThreads>>>(
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
    OptimizerStep<<<Blocks(n_), kThreads>>>(params_.get(), gradient_.get(), start_.get(), first_.get(), second_.get(),
                                            accrued_.get(), n_, c);
    FEDRA_CUDA(cudaGetLastError());
    // The batch's statistics, summed on the host in the CPU path's order.
    std::vector<float> loss(static_cast<size_t>(batch));
    std::vector<int32_t> right(static_cast<size_t>(batch), 0);
    FEDRA_CUDA(cudaMemcpy(loss.data(), loss_.get(), loss.size() * sizeof(float), cudaMemcpyDeviceToHost));
    if (spec_.softmax) {
      FEDRA_CUDA(cudaMemcpy(right.data(), correct_.get(), right.size() * sizeof(int32_t), cudaMemcpyDeviceToHost));
    }
    for (int b = 0; b < batch; ++b) {
      *loss_sum += loss[static_cast<size_t>(b)];
      *correct += right[static_cast<size_t>(b)];
    }
    return Status::Ok();
  }

  Status Download(float* params, float* accrued_sum) override {
    FEDRA_CUDA(cudaMemcpy(params, params_.get(), static_cast<size_t>(n_) * sizeof(float), cudaMemcpyDeviceToHost));
    if (accrued_sum) {
      FEDRA_CUDA(
          cudaMemcpy(accrued_sum, accrued_.get(), static_cast<size_t>(n_) * sizeof(float), cudaMemcpyDeviceToHost));
    }
    return Status::Ok();
  }

 private:
  // Per-batch buffers, sized for `batch` columns.
  Status Reserve(int batch) {
    if (batch == batch_) return Status::Ok();
    batch_ = batch;
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
    return Status::Ok();
  }

  GpuTrainingSpec spec_;
  cublasHandle_t blas_ = nullptr;
  int64_t n_ = 0;
  int64_t steps_ = 0;
  int batch_ = 0;
  DeviceBuffer<float> x_, targets_, params_, start_, gradient_, first_, second_, accrued_, back_, loss_;
  DeviceBuffer<int32_t> classes_, index_, labels_, correct_;
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
