// Named presets: option values that reproduce a tutorial's model or the project's best
// settings, with the accuracy the original reported.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace rnnb {

struct Preset {
  std::string name;
  std::string description;
  std::string reference;  // what the original reported, or "" for the project's own
  std::vector<std::pair<std::string, std::string>> options;
};

const std::vector<Preset>& presets();
const Preset& find_preset(const std::string& name);  // throws UsageError when unknown
void print_presets();

}  // namespace rnnb
