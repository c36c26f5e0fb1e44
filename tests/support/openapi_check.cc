#include "tests/support/openapi_check.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

namespace fedra::testing {
namespace {

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream in(path);
  for (std::string s; std::getline(in, s, '/');) {
    if (!s.empty()) out.push_back(s);
  }
  return out;
}

bool IsParameter(const std::string& segment) { return segment.size() > 2 && segment.front() == '{'; }

std::string Lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

const nlohmann::json& OpenApiCheck::Resolve(const nlohmann::json& maybe_ref) const {
  if (!maybe_ref.is_object() || !maybe_ref.contains("$ref")) return maybe_ref;
  const std::string ref = maybe_ref["$ref"];  // "#/components/schemas/Run"
  const nlohmann::json* at = &doc_;
  for (const std::string& part : Segments(ref.substr(1))) at = &(*at)[part];
  return Resolve(*at);
}

bool OpenApiCheck::Describes(const std::string& method, const std::string& path_template) const {
  const auto paths = doc_.find("paths");
  return paths != doc_.end() && paths->contains(path_template) && (*paths)[path_template].contains(Lowercase(method));
}

Status OpenApiCheck::CheckResponse(const std::string& method, const std::string& path, int status,
                                   const std::string& content_type, const std::string& body) const {
  // The template that matches, literal segments first.
  const std::vector<std::string> concrete = Segments(path);
  const nlohmann::json* operation = nullptr;
  int best = -1;
  for (const auto& [name, item] : doc_["paths"].items()) {
    const std::vector<std::string> pattern = Segments(name);
    if (pattern.size() != concrete.size() || !item.contains(Lowercase(method))) continue;
    int literals = 0;
    bool match = true;
    for (size_t i = 0; i < pattern.size() && match; ++i) {
      if (IsParameter(pattern[i])) continue;
      match = pattern[i] == concrete[i];
      ++literals;
    }
    if (match && literals > best) {
      best = literals;
      operation = &item[Lowercase(method)];
    }
  }
  if (!operation) return NotFound("no operation " + method + " " + path);
  const std::string code = std::to_string(status);
  if (!(*operation)["responses"].contains(code)) {
    return NotFound(method + " " + path + ": status " + code + " is not described");
  }
  const nlohmann::json& response = Resolve((*operation)["responses"][code]);
  const std::string media = content_type.substr(0, content_type.find(';'));
  if (!response.contains("content") || !response["content"].contains(media)) {
    return NotFound(method + " " + path + " " + code + ": content type " + media + " is not described");
  }
  const nlohmann::json& schema = response["content"][media].value("schema", nlohmann::json::object());
  if (media != "application/json") return Status::Ok();
  const nlohmann::json value = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return InvalidArgument(method + " " + path + ": the body is not JSON");
  return CheckValue(schema, value, method + " " + path + " " + code);
}

Status OpenApiCheck::CheckValue(const nlohmann::json& schema_or_ref, const nlohmann::json& value,
                                const std::string& where) const {
  const nlohmann::json& schema = Resolve(schema_or_ref);
  if (value.is_null()) {
    if (schema.value("nullable", false) || !schema.contains("type")) return Status::Ok();
    return InvalidArgument(where + ": null where the schema does not allow it");
  }
  if (schema.contains("type")) {
    const std::string type = schema["type"];
    const bool ok = (type == "object" && value.is_object()) || (type == "array" && value.is_array()) ||
                    (type == "string" && value.is_string()) || (type == "boolean" && value.is_boolean()) ||
                    (type == "integer" && value.is_number_integer()) || (type == "number" && value.is_number());
    if (!ok) return InvalidArgument(where + ": expected " + type + ", got " + value.dump().substr(0, 80));
  }
  if (schema.contains("enum")) {
    const nlohmann::json& choices = schema["enum"];
    if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
      return InvalidArgument(where + ": " + value.dump() + " is not one of " + choices.dump());
    }
  }
  if (value.is_object()) {
    for (const nlohmann::json& key : schema.value("required", nlohmann::json::array())) {
      if (!value.contains(key.get<std::string>()))
        return InvalidArgument(where + ": lacks \"" + key.get<std::string>() + "\"");
    }
    const nlohmann::json properties = schema.value("properties", nlohmann::json::object());
    for (const auto& [key, v] : value.items()) {
      if (properties.contains(key)) FEDRA_RETURN_IF_ERROR(CheckValue(properties[key], v, where + "." + key));
    }
  }
  if (value.is_array()) {
    if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<size_t>()) {
      return InvalidArgument(where + ": more than " + schema["maxItems"].dump() + " items");
    }
    if (schema.contains("items")) {
      for (size_t i = 0; i < value.size(); ++i) {
        FEDRA_RETURN_IF_ERROR(CheckValue(schema["items"], value[i], where + "[" + std::to_string(i) + "]"));
      }
    }
  }
  return Status::Ok();
}

}  // namespace fedra::testing
