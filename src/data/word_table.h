// Interning table for words while a dataset is built: each distinct word gets a dense id
// in first-seen order, with its bytes kept once in an arena. Open addressing over the
// arena keeps the hot loop (millions of lookups) free of per-word allocations.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rnnb {

class WordTable {
 public:
  WordTable();
  int32_t intern(std::string_view word);  // the word's id, adding it when new
  std::string_view word(int32_t id) const {
    return std::string_view(arena_).substr(starts_[static_cast<size_t>(id)],
                                           starts_[static_cast<size_t>(id) + 1] -
                                               starts_[static_cast<size_t>(id)]);
  }
  int32_t size() const { return static_cast<int32_t>(starts_.size() - 1); }

 private:
  void grow();

  std::string arena_;
  std::vector<size_t> starts_{0};  // word i is arena_[starts_[i], starts_[i+1])
  struct Slot {
    uint32_t tag;  // high half of the hash: most mismatches are rejected without the arena
    int32_t id;    // -1 = empty
  };
  std::vector<Slot> slots_;
  std::vector<uint64_t> hashes_;  // per word, to rehash without rereading
};

}  // namespace rnnb
