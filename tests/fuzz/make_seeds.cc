// Writes the fuzzers' binary seeds into <dir>/<fuzzer>/, made by the real encoders, so that the
// corpora start from well-formed messages: scripts/fuzz --seeds runs it into tests/fuzz/corpus.
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/framing.h"
#include "common/matrix_codec.h"
#include "federated/instruction.h"
#include "federated/update_codec.h"

namespace {

namespace fs = std::filesystem;

void Write(const fs::path& dir, const std::string& fuzzer, const std::string& name, std::span<const uint8_t> bytes) {
  fs::create_directories(dir / fuzzer);
  std::FILE* f = std::fopen((dir / fuzzer / name).c_str(), "wb");
  if (!f) return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fedra;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const fs::path dir = argv[1];

  const auto header = EncodeFrameHeader(FrameKind::kRequestBatch, 7, 1234);
  Bytes frame(header.begin(), header.end());
  const Bytes error = EncodeErrorBody(NotFound("unknown variable 7"));
  frame.insert(frame.end(), error.begin(), error.end());
  Write(dir, "fuzz_frame", "header_and_error", frame);

  TrainLocalParams train;
  train.model.inputs = 2;
  train.model.hidden = {3};
  train.model.outputs = 2;
  const RequestBatch requests{
      1,
      {Request::Ping(), Request::Read(5, "d", {"a", "b"}), Request::Put(6, Matrix::Ones(2, 3)),
       Request::Run(7, Op::kColSums, {5}, true),
       Request::Run(8, Instruction(Op::kColumns, ColumnsParams{{1}}.ToJson()), {5}),
       Request::Run(9, Instruction(Op::kSplitRows, SplitRowsParams{0.25, 3, true}.ToJson()), {5}),
       Request::Run(10, train, {5, 6, 9}), Request::Release({5, 6}), Request::Audit(3)}};
  Write(dir, "fuzz_request_batch", "batch", EncodeRequestBatch(requests));

  ResponseBatch responses{1,
                          42,
                          {Response{}, Response::Error(NotFound("unknown dataset 'x'")),
                           Response{Status::Ok(), {{"rows", 2}}, Matrix::Ones(2, 2), {}}}};
  Write(dir, "fuzz_response_batch", "batch", EncodeResponseBatch(responses));

  Bytes matrix;
  ByteWriter w(&matrix);
  EncodeMatrix(Matrix::Random(3, 2), &w);
  Write(dir, "fuzz_matrix_codec", "3x2", matrix);

  Eigen::VectorXf values = Eigen::VectorXf::LinSpaced(20, -1, 1);
  const double stats[] = {1.5, 3, 20, 0};
  for (const auto& [name, spec] :
       {std::pair{"dense", CompressionSpec{}}, std::pair{"topk", CompressionSpec{0.3, 32, 0}},
        std::pair{"bits8", CompressionSpec{1, 8, 0}}}) {
    const PackedUpdate packed = PackUpdate(values, stats, spec);
    Bytes seed = {20};  // the length the fuzzer's master expects
    seed.insert(seed.end(), packed.bytes.begin(), packed.bytes.end());
    Write(dir, "fuzz_update_codec", name, seed);
  }
  return 0;
}
