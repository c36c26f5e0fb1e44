#include "federated/protocol.h"

#include "common/config.h"
#include "common/matrix_codec.h"
#include "federated/instruction.h"

namespace fedra {
namespace {

// A request's params are small options; a response's meta may list a catalog of wide datasets
// (a column name, type and missing count each: 100,000 columns came to over 1 MiB).
constexpr size_t kMaxParamsBytes = 1u << 20;
constexpr size_t kMaxMetaBytes = 64u << 20;
constexpr size_t kMaxNameBytes = 256;

void EncodeJson(const nlohmann::json& j, ByteWriter* w) {
  // null and {} both travel as the empty string and decode as {}.
  w->PutString(j.is_null() || (j.is_object() && j.empty()) ? std::string() : j.dump());
}

Status DecodeJson(ByteReader* r, size_t max_bytes, nlohmann::json* out) {
  std::string text;
  FEDRA_RETURN_IF_ERROR(r->GetString(&text, max_bytes));
  if (text.empty()) {
    *out = nlohmann::json::object();
    return Status::Ok();
  }
  if (JsonNestsDeeperThan(text, kMaxJsonDepth)) {
    return DataLoss("metadata nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  *out = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded() || !out->is_object()) return DataLoss("metadata is not a JSON object");
  return Status::Ok();
}

enum ValueKind : uint8_t { kNoValue = 0, kDoubles = 1, kFloats = 2, kPacked = 3 };
constexpr uint8_t kOutOfLine = 0x80;  // a flag on the kind: the bytes follow as value chunks

// Appends `bytes` to the batch, or lists them to follow it.
void PutBytes(std::span<const uint8_t> bytes, bool out_of_line, ByteWriter* w, OutgoingValues* ool) {
  if (out_of_line) {
    ool->push_back(bytes);
  } else {
    w->Append(bytes.data(), bytes.size());
  }
}

bool GoesOutOfLine(size_t bytes, const OutgoingValues* ool) { return ool && bytes >= kOutOfLineBytes; }

void EncodeValue(const Matrix* value, const Bytes* packed, ByteWriter* w, OutgoingValues* ool) {
  if (packed && !packed->empty()) {
    const bool out = GoesOutOfLine(packed->size(), ool);
    w->Put(static_cast<uint8_t>(kPacked | (out ? kOutOfLine : 0)));
    w->Put(static_cast<uint64_t>(packed->size()));
    PutBytes(*packed, out, w, ool);
  } else if (!value) {
    w->Put(static_cast<uint8_t>(kNoValue));
  } else {
    const size_t bytes = MatrixBytes(*value);
    const bool out = GoesOutOfLine(bytes, ool);
    w->Put(static_cast<uint8_t>(kDoubles | (out ? kOutOfLine : 0)));
    w->Put(static_cast<uint64_t>(value->rows()));
    w->Put(static_cast<uint64_t>(value->cols()));
    PutBytes({reinterpret_cast<const uint8_t*>(value->data()), bytes}, out, w, ool);
  }
}

// A value encoded ahead (EncodeFloatValue): kind, rows, cols, then its bytes.
void EncodeEncodedValue(const Bytes& encoded, ByteWriter* w, OutgoingValues* ool) {
  constexpr size_t kHeader = 1 + 16;
  if (encoded.size() < kHeader || !GoesOutOfLine(encoded.size() - kHeader, ool)) {
    w->Append(encoded.data(), encoded.size());
    return;
  }
  w->Put(static_cast<uint8_t>(encoded[0] | kOutOfLine));
  w->Append(encoded.data() + 1, 16);
  ool->push_back(std::span<const uint8_t>(encoded).subspan(kHeader));
}

// Counts `bytes` more of out-of-line values against the limit, before they are allocated.
Status Reserve(IncomingValues* in, uint64_t bytes) {
  if (bytes > in->max_bytes || in->total > in->max_bytes - bytes) {
    return ResourceExhausted("values of more than " + std::to_string(in->total + bytes) +
                             " bytes in one batch exceed the limit of " + std::to_string(in->max_bytes));
  }
  in->total += bytes;
  return Status::Ok();
}

// An out-of-line matrix of doubles or floats: its shape here, its place made ready for the chunks.
template <typename M>
Status DecodeOutOfLineMatrix(ByteReader* r, IncomingValues* in, std::optional<M>* value) {
  uint64_t rows = 0, cols = 0;
  FEDRA_RETURN_IF_ERROR(DecodeMatrixShape(r, &rows, &cols));
  const uint64_t bytes = rows * cols * sizeof(typename M::Scalar);
  FEDRA_RETURN_IF_ERROR(Reserve(in, bytes));
  value->emplace(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  M& m = **value;
  in->spans.emplace_back(reinterpret_cast<uint8_t*>(m.data()), bytes);
  return Status::Ok();
}

// `packed` is null where packed bytes are not allowed (requests), `floats` where float32 values
// are not (responses); `in` is null where values may not come out of line.
Status DecodeValue(ByteReader* r, std::optional<Matrix>* value, Bytes* packed, std::optional<Eigen::MatrixXf>* floats,
                   IncomingValues* in) {
  uint8_t kind = 0;
  FEDRA_RETURN_IF_ERROR(r->Get(&kind));
  if (kind == kNoValue) return Status::Ok();
  const bool out = (kind & kOutOfLine) != 0;
  kind &= ~kOutOfLine;
  if (out && !in) return DataLoss("a value sent out of line where values must be inline");
  if (kind == kPacked && packed) {
    uint64_t size = 0;
    FEDRA_RETURN_IF_ERROR(r->Get(&size));
    if (out) {
      FEDRA_RETURN_IF_ERROR(Reserve(in, size));
      packed->resize(size);
      in->spans.emplace_back(packed->data(), size);
      return Status::Ok();
    }
    FEDRA_RETURN_IF_ERROR(r->Need(size, "packed value"));
    packed->resize(size);
    return r->Copy(packed->data(), size, "packed value");
  }
  if (kind == kFloats && floats) {
    if (out) return DecodeOutOfLineMatrix(r, in, floats);
    Eigen::MatrixXf m;
    FEDRA_RETURN_IF_ERROR(DecodeFloatMatrix(r, &m));
    *floats = std::move(m);
    return Status::Ok();
  }
  if (kind == kFloats) return DataLoss("a float32 value in a response: only requests carry them");
  if (kind != kDoubles) return DataLoss("bad value kind " + std::to_string(kind));
  if (out) return DecodeOutOfLineMatrix(r, in, value);
  Matrix m;
  FEDRA_RETURN_IF_ERROR(DecodeMatrix(r, &m));
  *value = std::move(m);
  return Status::Ok();
}

Status DecodeRequest(ByteReader* r, Request* q, IncomingValues* in) {
  uint8_t type = 0;
  FEDRA_RETURN_IF_ERROR(r->Get(&type));
  if (type < 1 || type > static_cast<uint8_t>(RequestType::kSecureSum)) {
    return DataLoss("unknown request type " + std::to_string(type));
  }
  q->type = static_cast<RequestType>(type);
  FEDRA_RETURN_IF_ERROR(r->Get(&q->output));
  uint32_t n = 0;
  FEDRA_RETURN_IF_ERROR(r->Get(&n));
  if (n > kMaxInputsPerRequest) return DataLoss(std::to_string(n) + " inputs exceed the limit");
  FEDRA_RETURN_IF_ERROR(r->Need(size_t{n} * sizeof(VarId), "inputs"));
  q->inputs.resize(n);
  FEDRA_RETURN_IF_ERROR(r->Copy(q->inputs.data(), size_t{n} * sizeof(VarId), "inputs"));
  FEDRA_RETURN_IF_ERROR(r->GetString(&q->name, kMaxNameBytes));
  FEDRA_RETURN_IF_ERROR(DecodeJson(r, kMaxParamsBytes, &q->params));
  return DecodeValue(r, &q->value, nullptr, &q->float_value, in);
}

Status DecodeResponse(ByteReader* r, Response* p, IncomingValues* in) {
  uint8_t code = 0;
  FEDRA_RETURN_IF_ERROR(r->Get(&code));
  const std::optional<StatusCode> known = StatusCodeFromWire(code);
  if (!known) return DataLoss("unknown status code " + std::to_string(code));
  std::string message;
  FEDRA_RETURN_IF_ERROR(r->GetString(&message));
  p->status = Status(*known, std::move(message));
  FEDRA_RETURN_IF_ERROR(DecodeJson(r, kMaxMetaBytes, &p->meta));
  return DecodeValue(r, &p->value, &p->packed, nullptr, in);
}

// Reads the batch id, the incarnation when the batch has one, and the item count, checking the
// count against the bytes left (every item takes at least `min_item_bytes`).
Status DecodeBatchHeader(ByteReader* r, uint64_t* id, uint64_t* incarnation, uint32_t* count, size_t min_item_bytes) {
  FEDRA_RETURN_IF_ERROR(r->Get(id));
  if (incarnation) FEDRA_RETURN_IF_ERROR(r->Get(incarnation));
  FEDRA_RETURN_IF_ERROR(r->Get(count));
  if (*count > kMaxBatchItems || size_t{*count} * min_item_bytes > r->remaining()) {
    return DataLoss("batch claims " + std::to_string(*count) + " items, which " + std::to_string(r->remaining()) +
                    " bytes cannot hold");
  }
  return Status::Ok();
}

template <typename Item, typename DecodeFn>
Status DecodeItems(std::span<const uint8_t> bytes, size_t min_item_bytes, const char* what, uint64_t* id,
                   uint64_t* incarnation, std::vector<Item>* items, DecodeFn decode) {
  ByteReader r(bytes);
  uint32_t count = 0;
  FEDRA_RETURN_IF_ERROR(DecodeBatchHeader(&r, id, incarnation, &count, min_item_bytes));
  items->clear();
  items->resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    Status s = decode(&r, &(*items)[i]);
    if (!s.ok()) return s.WithContext(std::string(what) + " " + std::to_string(i));
  }
  if (r.remaining() != 0) {
    return DataLoss(std::to_string(r.remaining()) + " unexpected bytes after the last " + what);
  }
  return Status::Ok();
}

}  // namespace

std::string_view RequestTypeName(RequestType type) {
  switch (type) {
    case RequestType::kPing: return "ping";
    case RequestType::kListCatalog: return "list_catalog";
    case RequestType::kRead: return "read";
    case RequestType::kPut: return "put";
    case RequestType::kGet: return "get";
    case RequestType::kExec: return "exec";
    case RequestType::kCall: return "call";
    case RequestType::kClear: return "clear";
    case RequestType::kAudit: return "audit";
    case RequestType::kDescribe: return "describe";
    case RequestType::kKeep: return "keep";
    case RequestType::kSecureSum: return "secure_sum";
  }
  return "unknown";
}

Request Request::Ping() { return Request{}; }

Request Request::ListCatalog() {
  Request q;
  q.type = RequestType::kListCatalog;
  return q;
}

Request Request::Read(VarId output, std::string dataset, std::vector<std::string> columns) {
  Request q;
  q.type = RequestType::kRead;
  q.output = output;
  q.name = std::move(dataset);
  if (!columns.empty()) q.params["columns"] = std::move(columns);
  return q;
}

Request Request::ReadEncoded(VarId output, std::string dataset, std::vector<std::string> columns,
                             nlohmann::json transform) {
  Request q = Read(output, std::move(dataset), std::move(columns));
  q.params["transform"] = std::move(transform);
  return q;
}

Request Request::Describe(std::string dataset, nlohmann::json queries) {
  Request q;
  q.type = RequestType::kDescribe;
  q.name = std::move(dataset);
  q.params["columns"] = std::move(queries);
  return q;
}

Request Request::Keep(VarId var, std::string dataset, std::vector<std::string> columns, bool write,
                      nlohmann::json levels) {
  Request q;
  q.type = RequestType::kKeep;
  q.inputs = {var};
  q.name = std::move(dataset);
  q.params = {{"columns", std::move(columns)}, {"write", write}};
  if (!levels.empty()) q.params["levels"] = std::move(levels);
  return q;
}

Request Request::SecureSum(std::string_view phase, nlohmann::json params, std::vector<VarId> inputs) {
  Request q;
  q.type = RequestType::kSecureSum;
  q.name = std::string(phase);
  q.params = std::move(params);
  q.inputs = std::move(inputs);
  return q;
}

Request Request::Put(VarId output, Matrix value) {
  Request q;
  q.type = RequestType::kPut;
  q.output = output;
  q.value = std::move(value);
  return q;
}

Request Request::PutEncoded(VarId output, std::shared_ptr<const Bytes> encoded) {
  Request q;
  q.type = RequestType::kPut;
  q.output = output;
  q.encoded_value = std::move(encoded);
  return q;
}

std::shared_ptr<const Bytes> EncodeFloatValue(const Eigen::VectorXf& values) {
  auto out = std::make_shared<Bytes>();
  out->reserve(17 + static_cast<size_t>(values.size()) * sizeof(float));
  ByteWriter w(out.get());
  w.Put(static_cast<uint8_t>(kFloats));
  w.Put(static_cast<uint64_t>(values.size()));
  w.Put(uint64_t{1});
  w.Append(values.data(), static_cast<size_t>(values.size()) * sizeof(float));
  return out;
}

Request Request::Get(VarId var) {
  Request q;
  q.type = RequestType::kGet;
  q.inputs = {var};
  return q;
}

Request Request::Run(VarId output, const Instruction& instruction, std::vector<VarId> inputs, bool return_value) {
  Request q;
  q.type = instruction.type();
  q.output = output;
  q.name = instruction.name();
  q.inputs = std::move(inputs);
  q.params = instruction.params();
  if (return_value) q.params["return"] = true;
  return q;
}

Request Request::Clear(std::vector<VarId> vars) {
  Request q;
  q.type = RequestType::kClear;
  q.inputs = std::move(vars);
  return q;
}

Request Request::Audit(int64_t limit) {
  Request q;
  q.type = RequestType::kAudit;
  q.params["limit"] = limit;
  return q;
}

Request Request::Release(std::vector<VarId> vars) {
  Request q = Clear(std::move(vars));
  q.params["missing_ok"] = true;
  return q;
}

Bytes EncodeRequestBatch(const RequestBatch& batch, OutgoingValues* out_of_line) {
  Bytes out;
  size_t reserve = 16;
  for (const Request& q : batch.requests) {
    if (out_of_line) {
      reserve += 64 + std::min(kOutOfLineBytes, q.value ? EncodedMatrixBytes(*q.value) : 0) +
                 std::min(kOutOfLineBytes, q.encoded_value ? q.encoded_value->size() : 0);
    } else {
      reserve += 64 + (q.value ? EncodedMatrixBytes(*q.value) : 0) + (q.encoded_value ? q.encoded_value->size() : 0);
    }
  }
  out.reserve(reserve);
  ByteWriter w(&out);
  w.Put(batch.id);
  w.Put(static_cast<uint32_t>(batch.requests.size()));
  for (const Request& q : batch.requests) {
    w.Put(static_cast<uint8_t>(q.type));
    w.Put(q.output);
    w.Put(static_cast<uint32_t>(q.inputs.size()));
    w.Append(q.inputs.data(), q.inputs.size() * sizeof(VarId));
    w.PutString(q.name);
    EncodeJson(q.params, &w);
    if (q.encoded_value) {
      EncodeEncodedValue(*q.encoded_value, &w, out_of_line);
    } else {
      EncodeValue(q.value ? &*q.value : nullptr, nullptr, &w, out_of_line);
    }
  }
  return out;
}

Bytes EncodeResponseBatch(const ResponseBatch& batch, OutgoingValues* out_of_line) {
  Bytes out;
  size_t reserve = 16;
  for (const Response& p : batch.responses) {
    const Matrix* value = p.sent_value();
    const size_t bytes = p.packed.size() + (value ? EncodedMatrixBytes(*value) : 0);
    reserve += 64 + (out_of_line ? std::min(bytes, kOutOfLineBytes) : bytes);
  }
  out.reserve(reserve);
  ByteWriter w(&out);
  w.Put(batch.id);
  w.Put(batch.incarnation);
  w.Put(static_cast<uint32_t>(batch.responses.size()));
  for (const Response& p : batch.responses) {
    w.Put(static_cast<uint8_t>(p.status.code()));
    w.PutString(p.status.message());
    EncodeJson(p.meta, &w);
    EncodeValue(p.sent_value(), &p.packed, &w, out_of_line);
  }
  return out;
}

Status DecodeRequestBatch(std::span<const uint8_t> bytes, RequestBatch* batch, IncomingValues* out_of_line) {
  // Smallest request: type, output, input count, two empty strings, value flag.
  return DecodeItems(bytes, 1 + 8 + 4 + 4 + 4 + 1, "request", &batch->id, nullptr, &batch->requests,
                     [&](ByteReader* r, Request* q) { return DecodeRequest(r, q, out_of_line); });
}

Status DecodeResponseBatch(std::span<const uint8_t> bytes, ResponseBatch* batch, IncomingValues* out_of_line) {
  return DecodeItems(bytes, 1 + 4 + 4 + 1, "response", &batch->id, &batch->incarnation, &batch->responses,
                     [&](ByteReader* r, Response* p) { return DecodeResponse(r, p, out_of_line); });
}

bool IsValidDatasetName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace fedra
