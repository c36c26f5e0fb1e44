#include "master/ps/checkpoint.h"

namespace fedra {
namespace {

// "FCK2": the layout below, version 2 (version 1 had no model description).
constexpr uint32_t kMagic = 0x324b4346;

void PutFloats(const Eigen::VectorXf& v, ByteWriter* w) {
  w->Put(static_cast<uint64_t>(v.size()));
  w->Append(v.data(), static_cast<size_t>(v.size()) * sizeof(float));
}

Status GetFloats(ByteReader* r, Eigen::VectorXf* v) {
  uint64_t n = 0;
  FEDRA_RETURN_IF_ERROR(r->Get(&n));
  if (n > r->remaining() / sizeof(float)) return DataLoss("checkpoint: truncated in a vector of " + std::to_string(n));
  v->resize(static_cast<Eigen::Index>(n));
  return r->Copy(v->data(), n * sizeof(float), "values");
}

}  // namespace

Bytes EncodeCheckpoint(const TrainingCheckpoint& c) {
  Bytes out;
  ByteWriter w(&out);
  w.Put(kMagic);
  w.Put(c.round);
  w.Put(c.optimizer.steps);
  w.PutString(nlohmann::json(c.rounds).dump());
  w.PutString(c.model.dump());
  PutFloats(c.parameters, &w);
  w.Put(static_cast<uint32_t>(c.optimizer.vectors.size()));
  for (const Eigen::VectorXf& v : c.optimizer.vectors) PutFloats(v, &w);
  return out;
}

Result<TrainingCheckpoint> DecodeCheckpoint(std::span<const uint8_t> bytes) {
  ByteReader r(bytes);
  uint32_t magic = 0;
  FEDRA_RETURN_IF_ERROR(r.Get(&magic));
  if (magic != kMagic) return DataLoss("not a training checkpoint (or one of another version)");
  TrainingCheckpoint c;
  FEDRA_RETURN_IF_ERROR(r.Get(&c.round));
  FEDRA_RETURN_IF_ERROR(r.Get(&c.optimizer.steps));
  std::string rounds;
  FEDRA_RETURN_IF_ERROR(r.GetString(&rounds, bytes.size()));
  const nlohmann::json parsed = nlohmann::json::parse(rounds, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return DataLoss("checkpoint: the round records are not a JSON array");
  c.rounds.assign(parsed.begin(), parsed.end());
  std::string model;
  FEDRA_RETURN_IF_ERROR(r.GetString(&model, bytes.size()));
  c.model = nlohmann::json::parse(model, nullptr, /*allow_exceptions=*/false);
  if (!c.model.is_object()) return DataLoss("checkpoint: the model description is not a JSON object");
  FEDRA_RETURN_IF_ERROR(GetFloats(&r, &c.parameters));
  uint32_t vectors = 0;
  FEDRA_RETURN_IF_ERROR(r.Get(&vectors));
  if (vectors > 8) return DataLoss("checkpoint: " + std::to_string(vectors) + " optimizer vectors");
  c.optimizer.vectors.resize(vectors);
  for (Eigen::VectorXf& v : c.optimizer.vectors) FEDRA_RETURN_IF_ERROR(GetFloats(&r, &v));
  if (r.remaining() != 0) return DataLoss("checkpoint: " + std::to_string(r.remaining()) + " bytes after its end");
  if (c.round < 0 || static_cast<size_t>(c.round) != c.rounds.size()) {
    return DataLoss("checkpoint: round " + std::to_string(c.round) + " with " + std::to_string(c.rounds.size()) +
                    " round records");
  }
  return c;
}

}  // namespace fedra
