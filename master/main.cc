// fedra-master: the master control program. See `fedra-master help`.
#include "common/allocator.h"
#include "master/cli.h"

int main(int argc, char** argv) {
  fedra::KeepLargeBuffersForReuse();
  return fedra::RunMasterCli(argc, argv);
}
