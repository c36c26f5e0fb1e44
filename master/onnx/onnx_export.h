// A saved model (master/jobs/saved_model.h) as an ONNX model, to take it to production: the
// graph takes the raw feature columns, each a [N, 1] input named as the column (text for columns
// the transform codes, floats for numbers, NaN for a missing number), applies the fitted
// transform (imputation, scaling, one-hot and dummy coding) and then the model:
//
//   lm, lmCG      -> predicted [N, 1]
//   logreg, nn    -> probabilities [N, K], class [N] (the code), label [N] (the class's name);
//                    a regression nn: predicted [N, outputs]
//   kmeans        -> distances [N, k] (squared), cluster [N]
//   pca           -> scores [N, k]
//
// Opset 13 and ai.onnx.ml 2 (LabelEncoder, for text), written with Debian's libonnx protobuf
// classes; computed in float32.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace fedra {

// The serialized ModelProto; kInvalidArgument naming what cannot be exported (binned columns).
Result<std::string> ExportOnnx(const nlohmann::json& saved_model);

}  // namespace fedra
