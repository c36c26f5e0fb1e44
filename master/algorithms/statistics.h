// Tail probabilities for the tests that R's summaries report, from Boost.Math: two-sided p values
// of t and z statistics, and the upper tail of an F statistic.
#pragma once

namespace fedra {

// P(|T| >= |t|) for Student's t with `df` degrees of freedom (df > 0).
double TwoSidedTPValue(double t, double df);

// P(|Z| >= |z|) for a standard normal Z.
double TwoSidedZPValue(double z);

// P(F >= f) for Fisher's F with (df1, df2) degrees of freedom.
double FUpperTail(double f, double df1, double df2);

}  // namespace fedra
