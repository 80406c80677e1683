// The numericalized dataset cache file. Layout (little-endian):
//   header:  magic "RNNBTOKS", u32 format version, u32 tokenizer version,
//            u64 payload bytes, u32 CRC-32 (zlib) of the payload, u32 zero
//   payload: key (u32 length + bytes), vocabulary (u32 count, then u32 length + bytes
//            each), then train, validation and test as u64 reviews, u64 tokens,
//            u8 labels[reviews], i64 offsets[reviews + 1], i32 tokens[tokens]
// The key spells out everything the contents depend on; a reader with another key, format
// or tokenizer version rebuilds. Every size is checked against the bytes actually present
// before anything is allocated, and every tokenized split is validated before it is used.
#pragma once

#include <string>

#include "data/dataset.h"

namespace rnnb {

inline constexpr uint32_t kCacheFormatVersion = 1;

enum class CacheRead { Loaded, Missing, Stale, Corrupt };

// Writes atomically (temp file + rename).
void write_dataset_cache(const std::string& path, const std::string& key, const Dataset& data);

// Fills vocab and the three tokenized splits of `data` when the result is Loaded; `why` says what
// was wrong for Stale and Corrupt.
CacheRead read_dataset_cache(const std::string& path, const std::string& key, Dataset& data,
                             std::string& why);

}  // namespace rnnb
