// Runs exported ONNX models with outside tools: ONNX Runtime from npm (tests/onnx/run_onnx.cjs)
// and Debian's python3-onnx checker. Both are installed by scripts/install-deps and the build.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace fedra::testing {

// Why the ONNX tools cannot run here (empty when they can): node, onnxruntime-web in
// `web_deps`, or python3's onnx missing.
std::string OnnxToolsMissing(const std::filesystem::path& web_deps);

// onnx.checker.check_model(full_check=True) on `model`; the checker's message on failure.
Status CheckOnnx(const std::filesystem::path& model);

// Runs `model` on `columns` ({"column": [values]}, null for missing numbers); returns each
// output's values, row by row.
Result<nlohmann::json> RunOnnx(const std::filesystem::path& web_deps, const std::filesystem::path& source_dir,
                               const std::filesystem::path& model, const nlohmann::json& columns);

}  // namespace fedra::testing
