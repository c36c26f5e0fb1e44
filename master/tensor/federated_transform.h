// Fitting a transform (federated/transform.h) over every site of a federation from federated
// aggregates (site-agent/column_stats.h), never from rows: category levels from each site's
// counts, means and standard deviations from each site's moments (combined exactly, as Chan et
// al. combine variances), medians and equi-height bin edges by a federated search that narrows
// an interval on the sites' bin counts until it holds one value. The fitted transform is the same
// for every site; FederatedMatrix::Read applies it where the rows live.
#pragma once

#include <string>

#include "common/status.h"
#include "federated/transform.h"
#include "master/federation/federation.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

// Fills in what `spec` leaves to be fitted on `dataset`: levels (sorted as R sorts a factor's,
// after "(other)" where a private-aggregate site folded rare categories, which makes it dummy
// coding's reference), imputation values, scale
// centres and divisors, bin edges. Imputed cells count in the scale's statistics; medians and
// bin edges are of the observed values. A column with nothing to fit costs nothing; the others
// take one round trip, and a median or equi-height bins a few more.
Result<Transform> FitTransform(Federation& fed, const std::string& dataset, Transform spec);

}  // namespace fedra
