// A REST request and response, independent of the transport (rest_server.h carries them over
// HTTPS; the APIs in rest_api.h and mlflow_api.h answer them).
#pragma once

#include <string>

namespace fedra {

struct ApiRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // path and query, e.g. "/api/v1/runs/3/metrics/loss?max_points=100"
  std::string authorization;  // the Authorization header
  std::string body;
};

// Who may call a resource: any token, or operators only.
enum class ApiAccess { kViewer, kOperator };

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

}  // namespace fedra
