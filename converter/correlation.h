// Correlation of two samples, used by the calibration reports (the DMPQ
// predictor study and the output-ranked mixed precision) to say how well one
// ranking predicts another.
#pragma once

#include <vector>

namespace edge {
namespace conv {

// Pearson's r; 0 for fewer than 2 points or a constant sample.
double Pearson(const std::vector<double>& a, const std::vector<double>& b);
// Average ranks (ties share the mean rank), 0-based.
std::vector<double> Ranks(const std::vector<double>& v);
// Spearman's rho: Pearson's r of the ranks.
double Spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace conv
}  // namespace edge
