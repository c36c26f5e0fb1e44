// fedra's version (CMake's project version), which sites report to the master.
#pragma once

#include <string_view>

namespace fedra {

std::string_view FedraVersion();

}  // namespace fedra
