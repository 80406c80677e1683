// Training progress on the terminal: a redrawn bar when stderr is a terminal, otherwise
// nothing per step (the trainer prints one plain line per epoch).
#pragma once

#include <chrono>
#include <string>

namespace rnnb {

class ProgressBar {
 public:
  ProgressBar(bool enabled, std::string label, int total);
  void update(int done, const std::string& status);
  void finish();  // clears the bar line

 private:
  bool enabled_;
  std::string label_;
  int total_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "auto" means on when stderr is a terminal.
bool progress_enabled(const std::string& mode);

}  // namespace rnnb
