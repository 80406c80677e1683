// Dataset summary for `rnnbench data`: counts, label balance, lengths, <unk> rate.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "data/dataset.h"

namespace rnnb {
namespace {

SplitReport report_split(const std::string& name, const TokenizedSplit& set) {
  SplitReport r;
  r.name = name;
  r.reviews = static_cast<int64_t>(set.size());
  std::vector<int> lengths(set.size());
  for (size_t i = 0; i < set.size(); ++i) {
    lengths[i] = set.length(i);
    r.positive += set.labels[i];
  }
  r.negative = r.reviews - r.positive;
  r.tokens = static_cast<int64_t>(set.tokens.size());
  r.unk_tokens = std::count(set.tokens.begin(), set.tokens.end(), kUnkId);
  if (!lengths.empty()) {
    std::sort(lengths.begin(), lengths.end());
    // Nearest-rank percentile: the smallest length with at least p% of reviews at or below.
    auto percentile = [&](double p) {
      size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(lengths.size())));
      return lengths[std::clamp<size_t>(rank, 1, lengths.size()) - 1];
    };
    r.min_length = lengths.front();
    r.p50 = percentile(50);
    r.p90 = percentile(90);
    r.p99 = percentile(99);
    r.max_length = lengths.back();
    r.mean_length = static_cast<double>(r.tokens) / static_cast<double>(r.reviews);
  }
  return r;
}

}  // namespace

DataReport make_data_report(const Dataset& dataset) {
  DataReport report;
  report.source = dataset.source;
  report.from_cache = dataset.from_cache;
  report.vocab_size = dataset.vocab.size();
  report.vocab_fingerprint = dataset.vocab.fingerprint();
  report.splits.push_back(report_split("train", dataset.train));
  report.splits.push_back(report_split("validation", dataset.validation));
  report.splits.push_back(report_split("test", dataset.test));
  return report;
}

void print_data_report(const Dataset& dataset, std::ostream& out) {
  const DataReport report = make_data_report(dataset);
  char line[256];
  out << "source: " << report.source << (report.from_cache ? " (from cache)" : " (built)") << "\n";
  std::snprintf(line, sizeof line, "vocabulary: %d words (with <pad>, <unk>), fingerprint %016llx\n",
                report.vocab_size, static_cast<unsigned long long>(report.vocab_fingerprint));
  out << line;
  std::snprintf(line, sizeof line, "%-10s %7s %7s %7s %10s %7s %5s %5s %5s %5s %6s %8s\n", "split",
                "reviews", "pos", "neg", "tokens", "mean", "min", "p50", "p90", "p99", "max",
                "unk");
  out << line;
  for (const SplitReport& s : report.splits) {
    const double unk_rate =
        s.tokens > 0 ? 100.0 * static_cast<double>(s.unk_tokens) / static_cast<double>(s.tokens) : 0.0;
    std::snprintf(line, sizeof line,
                  "%-10s %7lld %7lld %7lld %10lld %7.1f %5d %5d %5d %5d %6d %7.2f%%\n",
                  s.name.c_str(), static_cast<long long>(s.reviews),
                  static_cast<long long>(s.positive), static_cast<long long>(s.negative),
                  static_cast<long long>(s.tokens), s.mean_length, s.min_length, s.p50, s.p90,
                  s.p99, s.max_length, unk_rate);
    out << line;
  }
}

}  // namespace rnnb
