#include "tests/support/onnx_runner.h"

#include <cstdlib>

#include "common/config.h"

namespace fedra::testing {
namespace {

// Debian's python3, whatever python3 comes first on PATH: python3-onnx is installed for it.
constexpr const char* kPython = "/usr/bin/python3";

int Shell(const std::string& command) { return std::system(command.c_str()); }

std::string Quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

}  // namespace

std::string OnnxToolsMissing(const std::filesystem::path& web_deps) {
  if (Shell("command -v node > /dev/null 2>&1") != 0) return "node is not installed";
  if (!std::filesystem::exists(web_deps / "node_modules" / "onnxruntime-web")) {
    return "onnxruntime-web is not in " + web_deps.string() + " (npm was missing at build time)";
  }
  if (Shell(std::string(kPython) + " -c 'import onnx' > /dev/null 2>&1") != 0) return "python3-onnx is not installed";
  return "";
}

Status CheckOnnx(const std::filesystem::path& model) {
  const std::filesystem::path log = model.string() + ".check.log";
  const std::string command = std::string(kPython) +
                              " -c 'import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), "
                              "full_check=True)' " +
                              Quoted(model) + " > " + Quoted(log) + " 2>&1";
  if (Shell(command) == 0) return Status::Ok();
  Result<std::string> said = ReadTextFile(log);
  return FailedPrecondition("onnx.checker: " + (said.ok() ? *said : std::string("(no output)")));
}

Result<nlohmann::json> RunOnnx(const std::filesystem::path& web_deps, const std::filesystem::path& source_dir,
                               const std::filesystem::path& model, const nlohmann::json& columns) {
  const std::filesystem::path inputs = model.string() + ".inputs.json", outputs = model.string() + ".outputs.json",
                              log = model.string() + ".run.log";
  FEDRA_RETURN_IF_ERROR(WriteTextFile(inputs, columns.dump()));
  const std::string command = "NODE_PATH=" + Quoted(web_deps / "node_modules") + " node " +
                              Quoted(source_dir / "tests" / "onnx" / "run_onnx.cjs") + " " + Quoted(model) + " " +
                              Quoted(inputs) + " " + Quoted(outputs) + " > " + Quoted(log) + " 2>&1";
  if (Shell(command) != 0) {
    Result<std::string> said = ReadTextFile(log);
    return FailedPrecondition("ONNX Runtime: " + (said.ok() ? *said : std::string("(no output)")));
  }
  return LoadJsonFile(outputs);
}

}  // namespace fedra::testing
