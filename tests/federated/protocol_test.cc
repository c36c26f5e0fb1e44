// The instruction set's binary envelope: every request and response field survives a round trip,
// and any truncation or garbage is a kDataLoss error, never a crash.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <random>

#include "common/framing.h"
#include "federated/instruction.h"
#include "federated/protocol.h"
#include "tests/support/raw_request.h"

namespace fedra {

TEST_CASE("request batches round-trip every request type") {
  RequestBatch batch{
      42,
      {Request::Ping(), Request::ListCatalog(), Request::Read(7, "housing", {"a", "b"}),
       Request::Put(8, Matrix::Random(3, 2)), Request::Get(7), Request::Run(9, Op::kTmatmul, {7, 8}, true),
       RawCall(10, "moments", {7}, {{"k", 3}}), Request::Clear({7, 8, 9}),
       Request::ReadEncoded(11, "cars", {"Type"}, {{"Type", {{"coding", "dummy"}, {"levels", {"a", "b"}}}}}),
       Request::Describe("cars", {{"Type", {{"levels", true}}}}),
       Request::PutEncoded(12, EncodeFloatValue(Eigen::VectorXf::LinSpaced(5, -1, 1)))}};
  Bytes bytes = EncodeRequestBatch(batch);
  RequestBatch back;
  REQUIRE(DecodeRequestBatch(bytes, &back).ok());
  CHECK(back.id == 42);
  REQUIRE(back.requests.size() == batch.requests.size());
  for (size_t i = 0; i < batch.requests.size(); ++i) {
    const Request& a = batch.requests[i];
    const Request& b = back.requests[i];
    CHECK(a.type == b.type);
    CHECK(a.output == b.output);
    CHECK(a.inputs == b.inputs);
    CHECK(a.name == b.name);
    CHECK(a.params == b.params);
    REQUIRE(a.value.has_value() == b.value.has_value());
    if (a.value) CHECK(*a.value == *b.value);
    REQUIRE(b.float_value.has_value() == (a.encoded_value != nullptr));  // floats stay floats
    if (b.float_value) CHECK(*b.float_value == Eigen::VectorXf::LinSpaced(5, -1, 1));
  }
}

// The bytes of out-of-line values, concatenated as the chunks would carry them.
Bytes Chunks(const OutgoingValues& values) {
  Bytes out;
  for (const auto& v : values) out.insert(out.end(), v.begin(), v.end());
  return out;
}

// Fills `in`'s places from `bytes`, as the link does chunk by chunk.
void Deliver(const Bytes& bytes, IncomingValues* in) {
  size_t at = 0;
  for (const auto& span : in->spans) {
    REQUIRE(at + span.size() <= bytes.size());
    std::memcpy(span.data(), bytes.data() + at, span.size());
    at += span.size();
  }
  CHECK(at == bytes.size());
}

TEST_CASE("large values travel out of line, straight from and into their matrices") {
  const Matrix big = Matrix::Random(300, 40);  // 96,000 bytes: out of line
  Eigen::VectorXf params = Eigen::VectorXf::Random(20000);
  Eigen::VectorXf odd = Eigen::VectorXf::Random(20003);
  const Matrix small = Matrix::Random(3, 2);
  RequestBatch batch{9,
                     {Request::Put(1, big), Request::PutEncoded(2, EncodeFloatValue(params)), Request::Put(3, small),
                      Request::Ping(), Request::PutEncoded(5, EncodeFloatValue(odd))}};
  OutgoingValues out;
  const Bytes head = EncodeRequestBatch(batch, &out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].data() == reinterpret_cast<const uint8_t*>(batch.requests[0].value->data()));  // no copy
  CHECK(out[1].size() == params.size() * sizeof(float));
  CHECK(head.size() < 1000);

  RequestBatch back;
  IncomingValues in;
  in.max_bytes = 1 << 20;
  REQUIRE(DecodeRequestBatch(head, &back, &in).ok());
  REQUIRE(in.spans.size() == 3);
  Deliver(Chunks(out), &in);
  CHECK(*back.requests[0].value == big);
  // Float32 values stay floats, as the site keeps them.
  CHECK_FALSE(back.requests[1].value.has_value());
  CHECK(*back.requests[1].float_value == params);
  CHECK(*back.requests[4].float_value == odd);
  CHECK(*back.requests[2].value == small);
  CHECK_FALSE(back.requests[3].value.has_value());
  CHECK_FALSE(back.requests[3].float_value.has_value());

  SUBCASE("a head with out-of-line values is refused where values must be inline") {
    RequestBatch inline_only;
    CHECK(DecodeRequestBatch(head, &inline_only).message().find("out of line") != std::string::npos);
  }
  SUBCASE("float32 values count at their own size against the limit") {
    IncomingValues exact;  // the doubles, the floats, and nothing more
    exact.max_bytes = MatrixBytes(big) + (params.size() + odd.size()) * sizeof(float);
    RequestBatch fits;
    CHECK(DecodeRequestBatch(head, &fits, &exact).ok());
  }
  SUBCASE("values over the receiver's limit are refused before anything is allocated") {
    IncomingValues tight;
    tight.max_bytes = 100'000;
    RequestBatch refused;
    const Status s = DecodeRequestBatch(head, &refused, &tight);
    CHECK(s.code() == StatusCode::kResourceExhausted);
    CHECK_MESSAGE(s.message().find("exceed the limit of 100000") != std::string::npos, s.message());
  }
}

TEST_CASE("a site's variable is answered out of line as it is held, and packed bytes too") {
  auto held = std::make_shared<const Matrix>(Matrix::Random(200, 100));
  Response get;
  get.held_value = held;
  Response packed;
  packed.packed = Bytes(100'000, 7);
  ResponseBatch batch{4, 1, {get, packed, Response{Status::Ok(), {}, Matrix::Ones(2, 2), {}}}};
  OutgoingValues out;
  const Bytes head = EncodeResponseBatch(batch, &out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].data() == reinterpret_cast<const uint8_t*>(held->data()));
  ResponseBatch back;
  IncomingValues in;
  in.max_bytes = 1 << 30;
  REQUIRE(DecodeResponseBatch(head, &back, &in).ok());
  Deliver(Chunks(out), &in);
  CHECK(*back.responses[0].value == *held);
  CHECK(back.responses[1].packed == packed.packed);
  CHECK(*back.responses[2].value == Matrix::Ones(2, 2));
  // Without a list for them, the same values are written inline.
  ResponseBatch whole;
  REQUIRE(DecodeResponseBatch(EncodeResponseBatch(batch), &whole).ok());
  CHECK(*whole.responses[0].value == *held);
}

TEST_CASE("a float32 value in a response is refused: only requests carry them") {
  Bytes bytes = EncodeResponseBatch(ResponseBatch{4, 1, {Response{Status::Ok(), {}, Matrix::Ones(2, 2), {}}}});
  // The value's kind byte (1, doubles) before its shape, 2 x 2: made 2, floats.
  const std::array<uint8_t, 17> doubles = {1, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
  const auto at = std::search(bytes.begin(), bytes.end(), doubles.begin(), doubles.end());
  REQUIRE(at != bytes.end());
  *at = 2;
  ResponseBatch back;
  const Status s = DecodeResponseBatch(bytes, &back);
  CHECK(s.code() == StatusCode::kDataLoss);
  CHECK_MESSAGE(s.message().find("only requests carry them") != std::string::npos, s.message());
}

TEST_CASE("request metadata nested deeper than the JSON limit is refused, not parsed") {
  Request deep = Request::Ping();
  nlohmann::json params = 1;
  for (int i = 0; i < 200; ++i) params = nlohmann::json::array({params});
  deep.params = {{"x", params}};
  RequestBatch back;
  const Status s = DecodeRequestBatch(EncodeRequestBatch(RequestBatch{1, {deep}}), &back);
  CHECK(s.code() == StatusCode::kDataLoss);
  CHECK_MESSAGE(s.message().find("metadata nests deeper than 64 levels") != std::string::npos, s.message());
}

TEST_CASE("response batches round-trip the site's incarnation, status, meta and values") {
  ResponseBatch batch{5,
                      0xfedcba9876543210,
                      {Response{}, Response::Error(NotFound("unknown dataset 'x'")),
                       Response{Status::Ok(), {{"rows", 3}}, Matrix::Random(2, 2), {}}}};
  ResponseBatch back;
  REQUIRE(DecodeResponseBatch(EncodeResponseBatch(batch), &back).ok());
  CHECK(back.id == 5);
  CHECK(back.incarnation == 0xfedcba9876543210);
  REQUIRE(back.responses.size() == 3);
  CHECK(back.responses[1].status.code() == StatusCode::kNotFound);
  CHECK(back.responses[1].status.message() == "unknown dataset 'x'");
  CHECK(back.responses[2].meta["rows"] == 3);
  CHECK(*back.responses[2].value == *batch.responses[2].value);
}

TEST_CASE("a response whose meta was left null still decodes as an empty object") {
  Response r;
  r.meta = nullptr;
  r.value = Matrix::Ones(2, 2);
  ResponseBatch back;
  REQUIRE(DecodeResponseBatch(EncodeResponseBatch(ResponseBatch{1, 2, {r}}), &back).ok());
  CHECK(back.responses[0].meta.is_object());
  CHECK(*back.responses[0].value == *r.value);
}

TEST_CASE("every truncation of a request batch is a clean kDataLoss") {
  RequestBatch batch{1, {Request::Read(7, "d"), Request::Put(8, Matrix::Ones(4, 3)), Request::Get(8)}};
  Bytes bytes = EncodeRequestBatch(batch);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    RequestBatch back;
    Status s = DecodeRequestBatch(std::span<const uint8_t>(bytes.data(), cut), &back);
    CHECK_MESSAGE(s.code() == StatusCode::kDataLoss, "cut at ", cut);
  }
  bytes.push_back(0);
  RequestBatch back;
  CHECK(DecodeRequestBatch(bytes, &back).message().find("unexpected bytes") != std::string::npos);
}

TEST_CASE("random garbage never decodes into a crash") {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 2000; ++trial) {
    Bytes bytes(rng() % 200);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    RequestBatch q;
    ResponseBatch r;
    (void)DecodeRequestBatch(bytes, &q);
    (void)DecodeResponseBatch(bytes, &r);
  }
  // A count far beyond the bytes present is refused up front.
  Bytes lying;
  ByteWriter w(&lying);
  w.Put(uint64_t{1});
  w.Put(uint32_t{60000});
  RequestBatch q;
  CHECK(DecodeRequestBatch(lying, &q).message().find("claims 60000 items") != std::string::npos);
}

TEST_CASE("dataset names are catalog keys, never paths") {
  CHECK(IsValidDatasetName("housing"));
  CHECK(IsValidDatasetName("fashion-mnist_v2.train"));
  CHECK_FALSE(IsValidDatasetName(""));
  CHECK_FALSE(IsValidDatasetName("../etc/passwd"));
  CHECK_FALSE(IsValidDatasetName("a/b"));
  CHECK_FALSE(IsValidDatasetName(".hidden"));
  CHECK_FALSE(IsValidDatasetName("/abs"));
  CHECK_FALSE(IsValidDatasetName(std::string(129, 'a')));
}

TEST_CASE("every status code travels in error bodies and responses alike; unknown ones are refused") {
  for (int code = 1; code <= 255; ++code) {
    CAPTURE(code);
    const std::optional<StatusCode> known = StatusCodeFromWire(static_cast<uint8_t>(code));
    // The codes status.h defines are the ones accepted, whichever decoder reads them.
    CHECK(known.has_value() == !StatusCodeName(static_cast<StatusCode>(code)).starts_with("unknown"));
    Bytes body = EncodeErrorBody(Status(StatusCode::kInternal, "m"));
    body[0] = static_cast<uint8_t>(code);
    const Status error = DecodeErrorBody(body);
    ResponseBatch batch{7, 1, {Response::Error(Status(StatusCode::kInternal, "m"))}};
    Bytes encoded = EncodeResponseBatch(batch);
    encoded[20] = static_cast<uint8_t>(code);  // after u64 id, u64 incarnation, u32 count: the response's code
    ResponseBatch back;
    const Status decoded = DecodeResponseBatch(encoded, &back);
    if (known) {
      CHECK(error.code() == *known);
      REQUIRE(decoded.ok());
      CHECK(back.responses.at(0).status.code() == *known);
    } else {
      CHECK(error.code() == StatusCode::kDataLoss);
      CHECK(decoded.code() == StatusCode::kDataLoss);
      CHECK(decoded.message().find("unknown status code " + std::to_string(code)) != std::string::npos);
    }
  }
  CHECK(DecodeErrorBody(Bytes{0, 0, 0, 0, 0}).code() == StatusCode::kDataLoss);  // "ok" is no error
}

}  // namespace fedra
