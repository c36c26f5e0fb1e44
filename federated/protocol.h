// The federated instruction set: what the master asks of a site, and what comes back.
//
// A RequestBatch carries every request for one site in one step; the site answers with a
// ResponseBatch holding exactly one Response per request, in order. Requests in a batch run in
// order; a failed request changes nothing on the site and later requests still run.
//
// Wire layout (little-endian), the body of a kRequestBatch / kResponseBatch frame:
//   batch:    u64 id, u32 count, then `count` items (a response batch: u64 id, u64 incarnation,
//             u32 count, items)
//   request:  u8 type, u64 output, u32 n + n*u64 inputs, string name, string params-json, value
//   response: u8 status code, string message, string meta-json, value
//   value:    u8 kind: 0 none | 1 matrix of doubles | 2 matrix of floats (requests only) |
//             3 packed bytes (responses only), then the matrix (common/matrix_codec.h) or a u64
//             length and the bytes; a kind
//             with bit 0x80 set is out of line: only the shape (or length) is here, and the
//             bytes follow the batch as value chunks (common/framing.h), in order
// Strings are u32 length + bytes. JSON holds only small metadata (names, shapes, options) —
// values always travel raw: doubles, floats where the sender chose float32 (model parameters,
// which are floats already), or packed bytes whose layout the request names (a compressed
// model update, federated/update_codec.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/matrix.h"
#include "common/status.h"

namespace fedra {

class Instruction;  // federated/instruction.h

// Variable ids are chosen by the master and name a site variable.
using VarId = uint64_t;

// Append only, never renumber: the byte travels on the wire.
enum class RequestType : uint8_t {
  kPing = 1,         // liveness; answers {"site": name}
  kListCatalog = 2,  // dataset names, shapes, columns, privacy levels — never paths — and
                     // the site's variable count and memory use
  kRead = 3,         // dataset `name` (params.columns optional; params.transform, a fitted
                     // federated/transform.h, encodes them) -> variable `output`
  kPut = 4,          // broadcast `value` -> variable `output` (public)
  kGet = 5,          // value of variable inputs[0], if its privacy allows
  kExec = 6,         // operation `name` on `inputs` -> `output`; params.return also returns it
                     // (output 0 with params.return: return only, store nothing)
  kCall = 7,         // named function `name` on `inputs` -> `output` (training steps, statistics)
  kClear = 8,        // remove variables `inputs` (all or none; params.missing_ok skips unknown
                     // ids, for releases the master sends after a site may have restarted)
  kAudit = 9,        // the newest params.limit audit events (meta.events), for the dashboard
  kDescribe = 10,    // aggregates of dataset `name`'s raw columns (params.columns: {column: query},
                     // site-agent/column_stats.h) -> meta.columns, for fitting a transform
  kKeep = 11,        // keep row-level variable inputs[0] as dataset `name` (params.columns names its
                     // columns) for later reads, with its provenance; params.write: also as CSV in
                     // the site's output folder, where site.json names one (params.levels: the
                     // names of a column's codes)
  kSecureSum = 12,   // a phase (`name`) of a secure sum, federated/secure_sum.h; the mask phase
                     // masks inputs[0] and answers it packed, as u64 words
};

std::string_view RequestTypeName(RequestType type);

struct Request {
  RequestType type = RequestType::kPing;
  VarId output = 0;
  std::vector<VarId> inputs;
  std::string name;
  nlohmann::json params = nlohmann::json::object();
  std::optional<Matrix> value;
  // A value encoded once for many sites' batches (a broadcast), sent in place of `value`.
  std::shared_ptr<const Bytes> encoded_value;
  // Decoded at a site: a float32 value (EncodeFloatValue) as it came, in place of `value`. Never
  // encoded: a master sends floats as `encoded_value`.
  std::optional<Eigen::MatrixXf> float_value;

  static Request Ping();
  static Request ListCatalog();
  static Request Read(VarId output, std::string dataset, std::vector<std::string> columns = {});
  // Read of `columns` encoded by `transform` (the fitted transform's JSON).
  static Request ReadEncoded(VarId output, std::string dataset, std::vector<std::string> columns,
                             nlohmann::json transform);
  static Request Describe(std::string dataset, nlohmann::json queries);
  static Request Put(VarId output, Matrix value);
  // Put of float parameters, encoded once by EncodeFloatValue and shared by every batch that
  // sends them: half the bytes of doubles, nothing lost, no copy per site until the batch.
  static Request PutEncoded(VarId output, std::shared_ptr<const Bytes> encoded);
  static Request Get(VarId var);
  // Runs an operation or site function (kExec or kCall, as the instruction says) on `inputs`
  // into `output`. With `return_value`, the response also carries the result (subject to privacy).
  static Request Run(VarId output, const Instruction& instruction, std::vector<VarId> inputs,
                     bool return_value = false);
  static Request Clear(std::vector<VarId> vars);
  static Request Audit(int64_t limit);
  // Keep of `var` as dataset `dataset` with these column names; with `write`, also as CSV
  // where the site allows (`levels`: column -> the names of its codes 0, 1, ...).
  static Request Keep(VarId var, std::string dataset, std::vector<std::string> columns, bool write,
                      nlohmann::json levels = nlohmann::json::object());
  // A phase of a secure sum (federated/secure_sum.h) with its parameters; the mask phase names
  // the variable whose value goes into the sum.
  static Request SecureSum(std::string_view phase, nlohmann::json params, std::vector<VarId> inputs = {});
  // Clear that skips ids the site does not hold.
  static Request Release(std::vector<VarId> vars);
};

struct Response {
  Status status;
  nlohmann::json meta = nlohmann::json::object();  // small results: shapes, names, counts
  std::optional<Matrix> value;
  Bytes packed;  // a packed result in place of `value` (a compressed model update)
  // A site variable released as it is held, in place of `value`: sent from where it lies, with
  // no copy. Decoding always fills `value`.
  std::shared_ptr<const Matrix> held_value = nullptr;

  // The matrix this response sends, whichever of the two holds it; null when none.
  const Matrix* sent_value() const { return value ? &*value : held_value.get(); }

  static Response Error(Status s) { return Response{std::move(s), nlohmann::json::object(), {}, {}}; }
};

struct RequestBatch {
  uint64_t id = 0;
  std::vector<Request> requests;
};

struct ResponseBatch {
  uint64_t id = 0;
  // Which run of the site answered: a new random number at every start, so that the master can
  // tell a site that restarted (and lost its variables) from one that only lost a connection.
  // 0: not known (a batch relayed through another federation).
  uint64_t incarnation = 0;
  std::vector<Response> responses;
};

// Limits a decoder applies before allocating.
inline constexpr uint32_t kMaxBatchItems = 1u << 16;
inline constexpr uint32_t kMaxInputsPerRequest = 1u << 12;

// A column of floats, encoded as a request value (for PutEncoded).
std::shared_ptr<const Bytes> EncodeFloatValue(const Eigen::VectorXf& values);

// Values of at least this many bytes travel out of line when the encoder is given somewhere to
// list them.
inline constexpr size_t kOutOfLineBytes = 64 << 10;

// Where an encoded batch's out-of-line values lie, in order: inside the batch, which must live
// until they are sent.
using OutgoingValues = std::vector<std::span<const uint8_t>>;

// Where a decoded batch's out-of-line values go, in order: inside the batch.
struct IncomingValues {
  uint64_t max_bytes = 0;  // the most the values of one batch may take
  uint64_t total = 0;
  std::vector<std::span<uint8_t>> spans;
};

// Without `out_of_line`, every value is written inline (a batch that stays in one piece).
Bytes EncodeRequestBatch(const RequestBatch& batch, OutgoingValues* out_of_line = nullptr);
Bytes EncodeResponseBatch(const ResponseBatch& batch, OutgoingValues* out_of_line = nullptr);
// Fail with kDataLoss naming the item and offset on any malformed or truncated input. Without
// `out_of_line`, an out-of-line value is malformed; with it, values are allocated (up to its
// max_bytes, else kResourceExhausted) and listed for the chunks to fill. Float32 values decode
// into a request's float_value; only requests carry them.
Status DecodeRequestBatch(std::span<const uint8_t> bytes, RequestBatch* batch, IncomingValues* out_of_line = nullptr);
Status DecodeResponseBatch(std::span<const uint8_t> bytes, ResponseBatch* batch, IncomingValues* out_of_line = nullptr);

// Dataset names are catalog keys, never paths: letters, digits, '_', '-', '.', not starting
// with '.', at most 128 characters.
bool IsValidDatasetName(std::string_view name);

}  // namespace fedra
