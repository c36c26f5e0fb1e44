// Job specs as the REST API and the command line receive them: JSON text, then ParseJobSpec with
// every algorithm's parameters, transform and training settings.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/config.h"
#include "master/jobs/job.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fedra::Result<nlohmann::json> doc = fedra::ParseJson(text, "job.json");
  if (doc.ok()) (void)fedra::ParseJobSpec(*doc, "job.json");
  return 0;
}
