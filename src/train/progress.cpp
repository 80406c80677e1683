// Terminal progress bar, redrawn at most ten times a second.
#include "train/progress.h"

#include <unistd.h>

#include <cstdio>

#include "util/error.h"

namespace rnnb {

ProgressBar::ProgressBar(bool enabled, std::string label, int total)
    : enabled_(enabled), label_(std::move(label)), total_(total) {}

void ProgressBar::update(int done, const std::string& status) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const int width = 30;
  const int filled = total_ > 0 ? width * done / total_ : width;
  std::fprintf(stderr, "\r%s [%.*s%*s] %d/%d %s\x1b[K", label_.c_str(), filled,
               "##############################", width - filled, "", done, total_, status.c_str());
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (!enabled_) return;
  std::fprintf(stderr, "\r\x1b[K");
  std::fflush(stderr);
}

bool progress_enabled(const std::string& mode) {
  if (mode == "on") return true;
  if (mode == "off") return false;
  if (mode == "auto") return ::isatty(STDERR_FILENO) != 0;
  throw UsageError("--progress takes auto, on or off, got '" + mode + "'");
}

}  // namespace rnnb
