// Request batches as a site receives them, and the instructions in them: every decoded request's
// parameters go through each parser a site would use for its operation or function.
#include <cstddef>
#include <cstdint>
#include <span>

#include "federated/instruction.h"
#include "federated/transform.h"

namespace {

template <typename... P>
void ParseAll(const nlohmann::json& params) {
  ((void)P::Parse(params), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Also as a head whose values follow out of line, within a small limit.
  fedra::RequestBatch head;
  fedra::IncomingValues values;
  values.max_bytes = 1 << 20;
  (void)fedra::DecodeRequestBatch(std::span<const uint8_t>(data, size), &head, &values);
  fedra::RequestBatch batch;
  if (!fedra::DecodeRequestBatch(std::span<const uint8_t>(data, size), &batch).ok()) return 0;
  for (const fedra::Request& q : batch.requests) {
    (void)fedra::FindOperation(q.name);
    (void)fedra::FindFunction(q.name);
    ParseAll<fedra::ColumnsParams, fedra::SplitRowsParams, fedra::LogisticStatsParams, fedra::LogisticHessianParams,
             fedra::KMeansSeedsParams, fedra::KMeansStepParams, fedra::TrainLocalParams, fedra::PackUpdateParams,
             fedra::EvalModelParams>(q.params);
    if (const auto t = q.params.find("transform"); t != q.params.end()) {
      (void)fedra::Transform::Parse(*t, {}, {}, "params.transform");
    }
  }
  return 0;
}
