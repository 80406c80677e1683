// Open-addressing word interning table.
#include "data/word_table.h"

#include <functional>

namespace rnnb {

WordTable::WordTable() : slots_(size_t{1} << 16, -1) {}

void WordTable::grow() {
  std::vector<int32_t> slots(slots_.size() * 2, -1);
  const size_t mask = slots.size() - 1;
  for (size_t id = 0; id < hashes_.size(); ++id) {
    size_t at = hashes_[id] & mask;
    while (slots[at] >= 0) at = (at + 1) & mask;
    slots[at] = static_cast<int32_t>(id);
  }
  slots_.swap(slots);
}

int32_t WordTable::intern(std::string_view word) {
  const size_t hash = std::hash<std::string_view>{}(word);
  const size_t mask = slots_.size() - 1;
  size_t at = hash & mask;
  for (;;) {
    const int32_t id = slots_[at];
    if (id < 0) break;
    if (hashes_[static_cast<size_t>(id)] == hash && this->word(id) == word) return id;
    at = (at + 1) & mask;
  }
  const int32_t id = size();
  arena_.append(word);
  starts_.push_back(arena_.size());
  hashes_.push_back(hash);
  slots_[at] = id;
  if (hashes_.size() * 2 > slots_.size()) grow();  // keep the load factor under 1/2
  return id;
}

}  // namespace rnnb
