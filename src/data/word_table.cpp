// Open-addressing word interning table.
#include "data/word_table.h"

#include <cstring>

namespace rnnb {
namespace {

// A fast 64-bit hash for short byte strings (words average under 5 bytes): 8-byte
// chunks mixed by multiply-xorshift steps.
inline uint64_t hash_word(std::string_view word) {
  const char* p = word.data();
  size_t n = word.size();
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL);
  while (n >= 8) {
    uint64_t chunk;
    std::memcpy(&chunk, p, 8);
    h = (h ^ chunk) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  for (size_t i = 0; i < n; ++i) tail |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  h = (h ^ tail) * 0x94d049bb133111ebULL;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 32);
}

inline uint32_t tag_of(uint64_t hash) { return static_cast<uint32_t>(hash >> 32); }

}  // namespace

WordTable::WordTable() : slots_(size_t{1} << 16, Slot{0, -1}) {}

void WordTable::grow() {
  std::vector<Slot> slots(slots_.size() * 2, Slot{0, -1});
  const size_t mask = slots.size() - 1;
  for (size_t id = 0; id < hashes_.size(); ++id) {
    size_t at = hashes_[id] & mask;
    while (slots[at].id >= 0) at = (at + 1) & mask;
    slots[at] = Slot{tag_of(hashes_[id]), static_cast<int32_t>(id)};
  }
  slots_.swap(slots);
}

int32_t WordTable::intern(std::string_view word) {
  const uint64_t hash = hash_word(word);
  const uint32_t tag = tag_of(hash);
  const size_t mask = slots_.size() - 1;
  size_t at = hash & mask;
  for (;;) {
    const Slot slot = slots_[at];
    if (slot.id < 0) break;
    if (slot.tag == tag && this->word(slot.id) == word) return slot.id;
    at = (at + 1) & mask;
  }
  const int32_t id = size();
  arena_.append(word);
  starts_.push_back(arena_.size());
  hashes_.push_back(hash);
  slots_[at] = Slot{tag, id};
  if (hashes_.size() * 2 > slots_.size()) grow();  // keep the load factor under 1/2
  return id;
}

}  // namespace rnnb
