// JSON numbers of the host tools' reports (edge-convert, edge-bench), with
// nlohmann-json: a measurement is written as its printf form shows it
// (default 6 significant digits, the precision the reports have always had),
// so a reader gets the same value as from the text; an integer when that form
// has no fraction or exponent; NaN and Inf, which JSON cannot hold, as null.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

namespace edge {
namespace host {

using Json = nlohmann::ordered_json;  // keys stay in the order written

inline Json JsonFigure(double v, const char* format = "%.6g") {
  if (!std::isfinite(v)) return nullptr;
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  if (std::strpbrk(b, ".eE") == nullptr) return std::strtoll(b, nullptr, 10);
  return std::strtod(b, nullptr);
}

}  // namespace host
}  // namespace edge
