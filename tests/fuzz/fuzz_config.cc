// site.json and federation.json as an owner or operator may write them: JSON text, then each
// configuration's parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/config.h"
#include "master/federation/federation_config.h"
#include "site-agent/site_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fedra::Result<nlohmann::json> doc = fedra::ParseJson(text, "fuzz.json");
  if (!doc.ok()) return 0;
  (void)fedra::ParseSiteConfig(*doc, "/nonexistent", "site.json");
  (void)fedra::ParseFederationConfig(*doc, "/nonexistent", "federation.json");
  return 0;
}
