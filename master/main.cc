// fedra-master: the master control program. See `fedra-master help`.
#include "master/cli.h"

int main(int argc, char** argv) { return fedra::RunMasterCli(argc, argv); }
