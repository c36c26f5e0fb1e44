// Federated training costs:
//   - parameter-server overhead: the time of a round for a 1,000,000-parameter model over four
//     loopback sites doing (almost) no local compute (one step on two rows each), with the bytes it moves;
//     the goal is under 20 ms (Flower 1.10 takes about 137 ms with two clients); and the same
//     round with secure aggregation, against it (goal: at most 1.5x); and the CPU time a round
//     takes in all five processes, with the cipher's share of it (its bytes sealed and opened at
//     this machine's AES-256-GCM rate), which with the cores bound how short a round can be here,
//     as does the time the transport takes to move a round's bytes in one get;
//   - the master's aggregation of a round (mean and median of 4 and 32 updates of 1M values) on
//     one core and on all;
//   - local training throughput (samples/s), a 784-128-10 MLP, batch 32 and 512, on the CPU and,
//     where there is one, on the GPU (tests/bench/torch_mlp.py runs the same in PyTorch);
//   - update compression on Fashion-MNIST (when installed): bytes per round and test accuracy
//     after 20 FedAvg rounds, uncompressed against top-k 1% with error feedback.
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <thread>

#include "common/allocator.h"
#include "master/algorithms/federated_training.h"
#include "master/ps/aggregation.h"
#include "site-agent/gpu_trainer.h"
#include "site-agent/trainer.h"
#include "tests/support/child_process.h"
#include "tests/support/cipher_speed.h"
#include "tests/support/fashion.h"
#include "tests/support/federated_data.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace {
using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The best rate, in MB/s, of five gets of `bytes` from `site` over its TLS link: with both ends
// busy on this machine's cores, how fast the transport moves bytes here at best.
fedra::Result<double> BestGetMBps(fedra::Federation& fed, const std::string& site, double bytes) {
  using namespace fedra;
  const VarId var = fed.NewVarId();
  SiteRequests put;
  put[site].push_back(Request::Put(var, Matrix::Ones(static_cast<Eigen::Index>(bytes / sizeof(double)), 1)));
  Status s = FirstError(fed.Call(std::move(put)));
  double best = 0;
  for (int rep = 0; rep < 5 && s.ok(); ++rep) {
    const auto t0 = Clock::now();
    s = FirstError(fed.Call({{site, {Request::Get(var)}}}));
    best = std::max(best, bytes / 1e6 / Seconds(t0));
  }
  fed.Release(site, var);
  if (!s.ok()) return s.WithContext("timing gets");
  return best;
}

}  // namespace

// The master's aggregation of one round, 1,000,000 parameters from 4 and from 32 sites: the
// mean and the median on one core, against the machine's cores (the median of 5 runs each).
void CompareAggregation() {
  using namespace fedra;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  for (const int sites : {4, 32}) {
    std::vector<SiteUpdate> updates(static_cast<size_t>(sites));
    std::vector<const SiteUpdate*> round;
    for (SiteUpdate& u : updates) {
      u.values = Eigen::VectorXf::Random(1000000);
      u.rows = 100;
      round.push_back(&u);
    }
    for (const char* name : {"mean", "median"}) {
      const auto median_ms = [&](size_t on) {
        std::vector<double> ms;
        for (int i = 0; i < 5; ++i) {
          const auto t0 = Clock::now();
          const Eigen::VectorXf out = Aggregate(AggregationSpec{name}, round, on);
          ms.push_back(1000 * Seconds(t0));
          if (out.size() != 1000000) std::abort();
        }
        std::sort(ms.begin(), ms.end());
        return ms[2];
      };
      const double one = median_ms(1), all = median_ms(cores);
      std::printf("aggregation, %s of %d updates of 1,000,000 values: %.1f ms on %u cores, %.1f ms on one (%.2fx)\n",
                  name, sites, all, cores, one, one / all);
    }
  }
}

// Uncompressed against top-k 1% FedAvg on non-IID Fashion-MNIST, three sites, 20 rounds.
int CompareCompression() {
  using namespace fedra;
  if (!testing::FashionAvailable()) {
    std::printf("compression on Fashion-MNIST: skipped (dataset-fashion-mnist is not installed)\n");
    return 0;
  }
  testing::TempDir dir("fedra-bench-compression");
  testing::LocalFederation local(dir.path(), {"a", "b", "c"});
  if (!testing::AddNonIidFashion(local).ok()) return 1;
  local.StartAll();
  auto fed = local.Connect(std::chrono::seconds(300));
  auto data = testing::ReadFeaturesAndLabel(*fed, "fashion");
  auto test = testing::LoadFashionTest();
  if (!data.ok() || !test.ok()) return 1;
  double dense_bytes = 0, dense_accuracy = 0;
  for (double topk : {1.0, 0.01}) {
    TrainingOptions options = testing::FashionMlpOptions(20);
    options.compression.topk = topk;
    Result<testing::FashionRun> run = testing::TrainAndTestFashion(*fed, data->first, data->second, options, *test);
    if (!run.ok()) {
      std::fprintf(stderr, "%s\n", run.status().ToString().c_str());
      return 1;
    }
    if (topk == 1) {
      dense_bytes = run->bytes_up_per_round;
      dense_accuracy = run->test_accuracy;
    }
    std::printf(
        "FedAvg on Fashion-MNIST, 3 sites, 20 rounds, %s: %.0f bytes up per round (%.4f of uncompressed), "
        "test accuracy %.4f (%+.2f points), %.1f s\n",
        topk == 1 ? "uncompressed" : "top-k 1% with error feedback", run->bytes_up_per_round,
        run->bytes_up_per_round / dense_bytes, run->test_accuracy, 100 * (run->test_accuracy - dense_accuracy),
        run->seconds);
  }
  return 0;
}

int main(int argc, char** argv) {
  using namespace fedra;
  KeepLargeBuffersForReuse();  // as fedra-master does
  std::mt19937 rng(1);
  std::normal_distribution<double> n(0, 1);
  // `bench_training rounds [N]`: only N plain parameter-server rounds (60 by default, at least 2:
  // the figures leave the first out), for profiling them; `rounds N cpu` with the sites training on
  // their CPU even where they have a GPU; `rounds N secure` only the secure rounds; `rounds N both`
  // the plain rounds and then the secure ones, with their ratio; `rounds N validate` the plain
  // rounds, each scoring its parameters on the sites' rows as a job's held-out rows are scored.
  // `bench_training local`: only local training throughput. `bench_training aggregate`: only
  // the master's aggregation on one core and on all.
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "aggregate" || mode.empty()) CompareAggregation();
  if (mode == "aggregate") return 0;
  const bool rounds_only = mode == "rounds";
  const int64_t rounds = rounds_only && argc > 2 ? std::max(std::atoll(argv[2]), 2LL) : 60;
  const std::string variant = rounds_only && argc > 3 ? argv[3] : "";
  const bool sites_on_cpu = variant == "cpu", secure_only = variant == "secure", both = variant == "both",
             validate = variant == "validate";

  // Local training throughput.
  if (!rounds_only) {
    Matrix x(20000, 784), y(20000, 1);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = n(rng);
    for (Eigen::Index i = 0; i < y.rows(); ++i) y(i, 0) = static_cast<double>(i % 10);
    ModelSpec spec;
    spec.inputs = 784;
    spec.hidden = {128};
    spec.outputs = 10;
    OptimizerSpec sgd;
    sgd.lr = 0.01f;
    sgd.momentum = 0.9f;
    // A training call first turns the site's rows into float32 (and, on the GPU, uploads them);
    // then each epoch costs the same. Timing calls of 1 and of 1 + k epochs separates the two:
    // the samples per second of the epochs alone, and the call's fixed cost. A first, untimed
    // call warms the caches, the allocator and (once per process) the GPU's context.
    struct Throughput {
      double samples_per_second, setup_seconds;
    };
    auto throughput = [&](bool gpu, int batch, int k) -> Result<Throughput> {
      double seconds[3];
      for (int i = 0; i < 3; ++i) {
        LocalTrainingOptions options;
        options.epochs = i < 2 ? 1 : 1 + k;
        options.batch_size = batch;
        options.use_gpu = gpu;
        const auto t0 = Clock::now();
        FEDRA_RETURN_IF_ERROR(TrainLocal(Mlp(spec), sgd, options, x, y, InitialParameters(spec, 1)).status());
        seconds[i] = Seconds(t0);
      }
      const double epoch = (seconds[2] - seconds[1]) / k, rows = static_cast<double>(x.rows() / batch * batch);
      return Throughput{rows / epoch, seconds[1] - epoch};
    };
    const bool gpu = ProbeGpu().available;
    if (!gpu) std::printf("local training, GPU: none (%s)\n", ProbeGpu().description.c_str());
    // The site's CPU products run on OpenBLAS's threads (all cores); one thread is PyTorch's
    // figure in tests/bench/torch_mlp.py.
    const int blas_threads = openblas_get_num_threads();
    for (const int batch : {32, 512}) {
      double one_thread = 0;
      for (const int threads : {1, blas_threads}) {
        if (threads == 1 && one_thread > 0) continue;
        openblas_set_num_threads(threads);
        Result<Throughput> cpu = throughput(false, batch, 2);
        if (!cpu.ok()) {
          std::fprintf(stderr, "%s\n", cpu.status().ToString().c_str());
          return 1;
        }
        if (threads == 1) one_thread = cpu->samples_per_second;
        std::printf(
            "local training, CPU, 784-128-10 MLP, batch %d, %d thread(s) (OpenBLAS's %s kernels): %.0f samples/s "
            "(%.2fx one thread); a call's setup for 20,000 x 784 rows: %.0f ms\n",
            batch, threads, openblas_get_corename(), cpu->samples_per_second, cpu->samples_per_second / one_thread,
            1000 * cpu->setup_seconds);
      }
      if (batch == 32) {
        // A call of no epochs is its setup alone: timed directly (the median of five calls), with
        // the rows converted by the call and with them kept as floats, as a site keeps them.
        const auto kept = std::make_shared<const RowMajorF>(RowMajorFloat(x));
        auto setup = [&](bool keep) {
          std::vector<double> seconds;
          for (int i = 0; i < 5; ++i) {
            LocalTrainingOptions options;
            options.epochs = 0;
            options.batch_size = batch;
            if (keep) options.float_rows = [kept] { return kept; };
            const auto t0 = Clock::now();
            if (!TrainLocal(Mlp(spec), sgd, options, x, y, InitialParameters(spec, 1)).ok()) return -1.0;
            seconds.push_back(Seconds(t0));
          }
          std::sort(seconds.begin(), seconds.end());
          return seconds[2];
        };
        const double converted = setup(false), kept_setup = setup(true);
        std::printf(
            "local training, CPU, a call's setup for 20,000 x 784 rows, timed alone: %.1f ms converting the rows, "
            "%.1f ms with them kept as floats across calls (%.3fx)\n",
            1000 * converted, 1000 * kept_setup, kept_setup / converted);
        // A validation round's evalModel on the same rows: as it was, converting the rows to
        // column-major floats and scoring them, against the rows kept as row-major floats and read
        // where they lie.
        const Eigen::VectorXf params = InitialParameters(spec, 1);
        Result<Targets> targets = MakeTargets(spec, y);
        if (!targets.ok()) return 1;
        auto score = [&](bool keep) {
          std::vector<double> seconds;
          double loss = 0;
          for (int i = 0; i < 5; ++i) {
            const auto t0 = Clock::now();
            loss = keep ? Mlp(spec).Score(params, *kept, *targets).loss_sum
                        : Mlp(spec).Run(params, x.cast<float>(), *targets, nullptr).loss_sum;
            seconds.push_back(Seconds(t0));
          }
          std::sort(seconds.begin(), seconds.end());
          return std::pair{seconds[2], loss};
        };
        const auto [whole, whole_loss] = score(false);
        const auto [kept_rows, kept_loss] = score(true);
        std::printf(
            "scoring those 20,000 x 784 rows (evalModel, a validation round): %.1f ms converting them and scoring "
            "them, %.1f ms with them kept as floats, read where they lie (%.3fx; losses %.6g and %.6g)\n",
            1000 * whole, 1000 * kept_rows, kept_rows / whole, whole_loss, kept_loss);
      }
      if (!gpu) continue;
      Result<Throughput> on_gpu = throughput(true, batch, batch < 512 ? 5 : 50);  // 50 epochs of 3 ms
      if (!on_gpu.ok()) {
        std::fprintf(stderr, "%s\n", on_gpu.status().ToString().c_str());
        return 1;
      }
      std::printf(
          "local training, GPU (%s), same model, batch %d: %.0f samples/s (%.1fx one CPU thread); a call's setup: %.0f "
          "ms\n",
          ProbeGpu().description.c_str(), batch, on_gpu->samples_per_second, on_gpu->samples_per_second / one_thread,
          1000 * on_gpu->setup_seconds);
    }
    openblas_set_num_threads(blas_threads);
    if (mode == "local") return 0;
  }

  // Parameter-server overhead: 1,000,000 parameters, four sites, one step on two rows of local work each.
  testing::TempDir dir("fedra-bench-training");
  testing::LocalFederation local(dir.path(), {"a", "b", "c", "d"});
  for (const auto& site : local.sites()) {
    local.EditConfig(site, [&](nlohmann::json& c) {
      c["limits"]["max_message_bytes"] = int64_t{1} << 30;
      if (sites_on_cpu) c["gpu"] = "off";
    });
  }
  local.StartAll();
  auto fed = local.Connect(std::chrono::seconds(120));
  std::vector<std::pair<std::string, Matrix>> xs, ys;
  for (const auto& site : local.sites()) {
    Matrix x(2, 1000), y(2, 1);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = n(rng);
    y << 0, 1;
    xs.emplace_back(site, x);
    ys.emplace_back(site, y);
  }
  // CPU seconds used so far by this process (the master) and every site process.
  auto cpu_seconds = [&] {
    double total = testing::CpuSeconds(getpid());
    for (const auto& site : local.sites()) total += testing::CpuSeconds(local.process(site).pid());
    return total;
  };
  std::vector<std::string> names;
  for (int j = 0; j < 1000; ++j) names.push_back("x" + std::to_string(j));
  Result<FederatedMatrix> x = FederatedMatrix::Distribute(*fed, xs, names);
  Result<FederatedMatrix> y = FederatedMatrix::Distribute(*fed, ys, {"label"});
  if (!x.ok() || !y.ok()) return 1;
  TrainingOptions options;
  options.model.inputs = 1000;
  options.model.hidden = {988};
  options.model.outputs = 10;
  // One per-epoch (FedAvg) round of one step on a site's two rows: the round a FedAvg job runs,
  // and the one whose secure sums go as 32-bit words.
  options.batches_per_round = 0;
  options.epochs_per_round = 1;
  options.batch_size = 2;
  options.rounds = rounds;
  double plain_median = 0, plain_cpu = 0;
  for (const bool secure : {false, true}) {
    if (rounds_only && !both && secure != secure_only) continue;
    // The same rounds with every round's updates summed securely (the updates travel as
    // 32-bit fixed-point words, masked: as many bytes as the plain round's float32).
    options.secure.enabled = secure;
    // CPU time from the end of the first round to the end of the last.
    double cpu_first = 0, cpu_last = 0;
    options.on_iteration = [&](int round, const IterationMetrics&) {
      (round == 1 ? cpu_first : cpu_last) = cpu_seconds();
      return Status::Ok();
    };
    Result<ParameterServerResult> trained =
        TrainFederated(*fed, *x, *y, options, validate ? Validation{&*x, &*y} : Validation{});
    if (!trained.ok()) {
      std::fprintf(stderr, "%s\n", trained.status().ToString().c_str());
      return 1;
    }
    std::vector<double> seconds;
    for (const auto& r : trained->rounds) seconds.push_back(r["seconds"].get<double>());
    const double after_first = std::accumulate(seconds.begin() + 1, seconds.end(), 0.0);
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    const auto& last = trained->rounds.back();
    const double cpu_per_round = (cpu_last - cpu_first) / static_cast<double>(options.rounds - 1);
    if (!secure) {
      plain_median = median;
      plain_cpu = cpu_per_round;
      const double bytes = last["bytes_down"].get<double>() + last["bytes_up"].get<double>();
      if (validate) {
        // The rounds' bytes leave out the validation's, so no cipher share is printed. A round's
        // validation follows its record, and is timed in the next round's seconds.
        std::printf(
            "parameter-server round, %lld parameters, 4 loopback sites, one step on two rows each, then scored on "
            "those rows: median %.1f ms (min %.1f ms); CPU per round, master and sites: %.1f ms\n",
            static_cast<long long>(options.model.parameter_count()), 1000 * median, 1000 * seconds.front(),
            1000 * cpu_per_round);
        continue;
      }
      std::printf(
          "parameter-server round, %lld parameters, 4 loopback sites, one step on two rows each: median %.1f ms (min "
          "%.1f ms), %.1f MB down + %.1f MB up per round (float32 on the wire)\n",
          static_cast<long long>(options.model.parameter_count()), 1000 * median, 1000 * seconds.front(),
          last["bytes_down"].get<double>() / 1e6, last["bytes_up"].get<double>() / 1e6);
      // Five processes share this machine's cores: a round takes at least its CPU time over them.
      // Of that, sealing and opening the round's bytes once each is the cipher's share at least.
      const double cipher = 2 * bytes / 1e6 / testing::AesGcmMBps(64 << 20);
      const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
      const auto later = static_cast<double>(options.rounds - 1);
      std::printf(
          "rounds 2 to %lld: mean %.1f ms; CPU per round, master and sites: %.1f ms, over %u cores at least %.1f ms of "
          "wall time; of it the cipher sealing and opening %.0f MB at one core's AES-256-GCM rate: %.1f ms\n",
          static_cast<long long>(options.rounds), 1000 * after_first / later, 1000 * cpu_per_round, cores,
          1000 * cpu_per_round / cores, bytes / 1e6, 1000 * cipher);
      // Moving the round's bytes costs about what one get of as many bytes takes, which keeps
      // both cores busy (the sender's and the receiver's), before any training, aggregation or
      // waiting.
      const Result<double> get_rate = BestGetMBps(*fed, local.sites().front(), bytes);
      if (!get_rate.ok()) {
        std::fprintf(stderr, "%s\n", get_rate.status().ToString().c_str());
        return 1;
      }
      std::printf(
          "the round's %.0f MB at the best rate of a get of as many bytes over these links (%.0f MB/s): %.1f ms\n",
          bytes / 1e6, *get_rate, 1000 * bytes / 1e6 / *get_rate);
    } else {
      std::printf("the same round with secure aggregation: median %.1f ms (min %.1f ms), %.1f MB up", 1000 * median,
                  1000 * seconds.front(), last["bytes_up"].get<double>() / 1e6);
      if (plain_median > 0) std::printf(", %.2fx the plain round", median / plain_median);
      std::printf("; CPU per round, master and sites: %.1f ms", 1000 * cpu_per_round);
      if (plain_cpu > 0) std::printf(", %.2fx the plain round's", cpu_per_round / plain_cpu);
      std::printf("\n");
    }
  }
  return rounds_only ? 0 : CompareCompression();
}
