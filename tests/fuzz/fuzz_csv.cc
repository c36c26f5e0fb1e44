// CSV text as a data owner's file may hold it. The first byte picks the options: header or not,
// the delimiter, missing-value tokens, and chunks of a few bytes over two threads, so that the
// parallel scan's chunk boundaries fall everywhere.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/csv_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t choice = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  fedra::CsvOptions options;
  options.header = (choice & 1) != 0;
  options.delimiter = (choice & 2) != 0 ? ';' : ',';
  if ((choice & 4) != 0) options.missing = {"", "NA"};
  if ((choice & 8) != 0) options.select = {"1", "a"};
  options.threads = (choice & 16) != 0 ? 2 : 1;
  options.min_chunk_bytes = 1 + (choice >> 5);
  (void)fedra::ParseCsv(text, options);
  double value = 0;
  (void)fedra::ParseCsvNumber(text, &value);
  return 0;
}
