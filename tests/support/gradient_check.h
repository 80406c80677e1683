// Double-precision helpers for finite-difference gradient checks.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "util/rng.h"

namespace rnnb::test {

using Vec = std::vector<double>;

// Uniform in [-scale, scale).
inline Vec random_vec(size_t n, Rng& rng, double scale = 1.0) {
  Vec v(n);
  for (auto& e : v) e = scale * (2.0 * rng.uniform_double() - 1.0);
  return v;
}

inline double dot(const Vec& a, const Vec& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Relative error that still fails on small gradients: |a - b| / max(1, |a| + |b|).
inline double max_error(const Vec& a, const Vec& b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(1.0, std::abs(a[i]) + std::abs(b[i])));
  return worst;
}

}  // namespace rnnb::test
