// The federation over the network: one mutual-TLS connection per configured site (site_client.h),
// I/O threads driving them, and every site's batch in flight at once.
#pragma once

#include <memory>

#include "common/status.h"
#include "master/federation/federation.h"
#include "master/federation/federation_config.h"

namespace fedra {

// Loads the TLS kit in `config`; connects lazily, on the first batch to each site.
Result<std::unique_ptr<Federation>> ConnectFederation(const FederationConfig& config);

}  // namespace fedra
