// Scripts as the REST API and the command line receive them: text, lexed and parsed (the syntax
// errors' excerpts and carets included). Running them needs sites; parsing must never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "master/script/interpreter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)fedra::script::CheckScript(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
