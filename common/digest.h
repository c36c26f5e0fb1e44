// Lower-case hex, and SHA-256 in it: the form API tokens are issued in (fedra-provision) and
// recorded and checked in (fedra-master's api-tokens file), so both sides share one encoder.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fedra {

std::string LowerHex(std::span<const unsigned char> bytes);
// The bytes of hex digits (either case); false when `hex` is not an even run of them.
bool FromHex(std::string_view hex, std::vector<unsigned char>* bytes);

// The SHA-256 of `text`, as 64 lower-case hex digits.
std::string Sha256Hex(std::string_view text);

}  // namespace fedra
