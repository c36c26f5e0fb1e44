// fedra-master's command line: parses the command and its flags and runs it. Results go to
// stdout as JSON, progress and errors to stderr. Returns the process exit code.
#pragma once

namespace fedra {

int RunMasterCli(int argc, char** argv);

}  // namespace fedra
