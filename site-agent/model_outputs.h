// A saved model run on a site's rows (federated/site_functions.h, ModelRunSpec): each row's
// outputs, which predictModel keeps at the site, and the sums evaluation metrics come from,
// which scoreModel releases. Errors say what does not fit, never a value.
#pragma once

#include "common/matrix.h"
#include "common/status.h"
#include "federated/site_functions.h"

namespace fedra {

// Per row of `x`, the model's outputs as ModelRunSpec lays them out.
Result<Matrix> PredictRows(const ModelRunSpec& model, const Matrix& x, const Matrix& p);

// The sums of ScoreModelParams against labels `y`, laid out by ScoreLayout. With
// `withhold_decisions` (private-aggregate rows) the confusion counts and histograms are NaN:
// they count rows on either side of boundaries the master chose.
Result<Matrix> ScoreSums(const ScoreModelParams& params, const Matrix& x, const Matrix& y, const Matrix& p,
                         bool withhold_decisions);

}  // namespace fedra
