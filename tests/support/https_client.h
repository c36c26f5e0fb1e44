// A small synchronous HTTPS client for REST tests and benchmarks: one kept-alive connection to
// 127.0.0.1, verifying the server against the federation CA and the name "localhost", with a
// socket deadline on every call so a test never hangs.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace fedra::testing {

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};

class HttpsClient {
 public:
  HttpsClient(const std::filesystem::path& ca, uint16_t port, std::string token = "",
              std::chrono::seconds timeout = std::chrono::seconds(30));
  ~HttpsClient();

  // Sends one request (reconnecting when the server closed the connection) and reads the reply.
  Result<HttpReply> Request(const std::string& method, const std::string& target, const std::string& body = "");
  // Request with these header fields besides; with a Transfer-Encoding among them, the body is
  // sent as it is, framed by nothing else.
  Result<HttpReply> Request(const std::string& method, const std::string& target, const std::string& body,
                            const std::vector<std::pair<std::string, std::string>>& fields);
  Result<HttpReply> Get(const std::string& target) { return Request("GET", target); }
  Result<HttpReply> Post(const std::string& target, const nlohmann::json& body) {
    return Request("POST", target, body.dump());
  }
  void set_token(std::string token) { token_ = std::move(token); }

 private:
  struct Connection;
  Status Connect();

  std::filesystem::path ca_;
  uint16_t port_;
  std::string token_;
  std::chrono::seconds timeout_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace fedra::testing
