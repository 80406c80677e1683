// Numericalized dataset cache: checked binary serialization of vocabulary and tokenized splits.
#include "data/dataset_cache.h"

#include <zlib.h>

#include <bit>
#include <cstring>

#include "data/tokenizer.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace rnnb {
namespace {

static_assert(std::endian::native == std::endian::little, "the cache layout is little-endian");

constexpr char kMagic[8] = {'R', 'N', 'N', 'B', 'T', 'O', 'K', 'S'};
constexpr size_t kHeaderBytes = 32;

uint32_t crc32_of(const uint8_t* data, size_t bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (bytes > 0) {  // zlib takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<size_t>(bytes, 1u << 30));
    crc = crc32(crc, data, chunk);
    data += chunk;
    bytes -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

class Writer {
 public:
  template <typename T>
  void put(const T& value) {
    raw(&value, sizeof value);
  }
  void raw(const void* data, size_t bytes) {
    const auto* p = static_cast<const uint8_t*>(data);
    buffer.insert(buffer.end(), p, p + bytes);
  }
  void text(const std::string& s) {
    put(static_cast<uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  template <typename T>
  void array(const std::vector<T>& v) {
    raw(v.data(), v.size() * sizeof(T));
  }
  std::vector<uint8_t> buffer;
};

// Bounds-checked reads; a short payload throws Corrupted, caught by read_dataset_cache.
struct Corrupted {
  std::string why;
};

class Reader {
 public:
  Reader(const uint8_t* data, size_t bytes) : p_(data), left_(bytes) {}
  template <typename T>
  T get() {
    T value;
    raw(&value, sizeof value);
    return value;
  }
  void raw(void* out, size_t bytes) {
    need(bytes, 1);
    std::memcpy(out, p_, bytes);
    p_ += bytes;
    left_ -= bytes;
  }
  std::string text() {
    const uint32_t length = get<uint32_t>();
    need(length, 1);
    std::string s(reinterpret_cast<const char*>(p_), length);
    p_ += length;
    left_ -= length;
    return s;
  }
  template <typename T>
  void array(std::vector<T>& v, uint64_t count) {
    need(count, sizeof(T));
    v.resize(static_cast<size_t>(count));
    raw(v.data(), v.size() * sizeof(T));
  }
  // Throws unless count items of item_bytes each are left (so no allocation is trusted).
  void need(uint64_t count, size_t item_bytes) const {
    if (count > left_ / item_bytes) throw Corrupted{"payload shorter than its counts"};
  }
  size_t left() const { return left_; }

 private:
  const uint8_t* p_;
  size_t left_;
};

void write_set(Writer& w, const TokenizedSplit& set) {
  w.put(static_cast<uint64_t>(set.size()));
  w.put(static_cast<uint64_t>(set.tokens.size()));
  w.array(set.labels);
  w.array(set.offsets);
  w.array(set.tokens);
}

TokenizedSplit read_set(Reader& r, int32_t vocab_size, const char* name) {
  TokenizedSplit set;
  const uint64_t reviews = r.get<uint64_t>();
  const uint64_t tokens = r.get<uint64_t>();
  r.array(set.labels, reviews);
  r.need(reviews + 1, sizeof(int64_t));
  r.array(set.offsets, reviews + 1);
  r.array(set.tokens, tokens);
  auto bad = [&](const std::string& what) { throw Corrupted{std::string(name) + " split: " + what}; };
  if (set.offsets.front() != 0 || set.offsets.back() != static_cast<int64_t>(tokens))
    bad("offsets do not span the tokens");
  for (size_t i = 0; i < reviews; ++i) {
    if (set.offsets[i + 1] <= set.offsets[i]) bad("a review has no tokens");
    if (set.labels[i] > 1) bad("a label is neither 0 nor 1");
  }
  for (int32_t id : set.tokens)
    if (id < 0 || id >= vocab_size) bad("a token id is outside the vocabulary");
  return set;
}

}  // namespace

void write_dataset_cache(const std::string& path, const std::string& key, const Dataset& data) {
  Writer payload;
  payload.text(key);
  payload.put(static_cast<uint32_t>(data.vocab.size()));
  for (const std::string& word : data.vocab.words()) payload.text(word);
  write_set(payload, data.train);
  write_set(payload, data.validation);
  write_set(payload, data.test);

  Writer header;
  header.raw(kMagic, sizeof kMagic);
  header.put(kCacheFormatVersion);
  header.put(kTokenizerVersion);
  header.put(static_cast<uint64_t>(payload.buffer.size()));
  header.put(crc32_of(payload.buffer.data(), payload.buffer.size()));
  header.put(uint32_t{0});
  RNNB_ASSERT(header.buffer.size() == kHeaderBytes);

  AtomicFile file(path);
  file.write(header.buffer.data(), header.buffer.size());
  file.write(payload.buffer.data(), payload.buffer.size());
  file.commit();
}

CacheRead read_dataset_cache(const std::string& path, const std::string& key, Dataset& data,
                             std::string& why) {
  if (!file_exists(path)) return CacheRead::Missing;
  std::vector<uint8_t> bytes;
  try {
    bytes = read_file_bytes(path);
  } catch (const Error& e) {
    why = e.what();
    return CacheRead::Corrupt;
  }
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    why = "not a token cache file";
    return CacheRead::Corrupt;
  }
  try {
    Reader header(bytes.data() + sizeof kMagic, kHeaderBytes - sizeof kMagic);
    const uint32_t format = header.get<uint32_t>();
    const uint32_t tokenizer = header.get<uint32_t>();
    const uint64_t payload_bytes = header.get<uint64_t>();
    const uint32_t crc = header.get<uint32_t>();
    if (format != kCacheFormatVersion || tokenizer != kTokenizerVersion) {
      why = "written by format " + std::to_string(format) + ", tokenizer " +
            std::to_string(tokenizer);
      return CacheRead::Stale;
    }
    if (payload_bytes != bytes.size() - kHeaderBytes) {
      why = "file is " + std::to_string(bytes.size()) + " bytes, header says " +
            std::to_string(payload_bytes + kHeaderBytes);
      return CacheRead::Corrupt;
    }
    const uint8_t* payload = bytes.data() + kHeaderBytes;
    if (crc32_of(payload, payload_bytes) != crc) {
      why = "CRC mismatch";
      return CacheRead::Corrupt;
    }
    Reader r(payload, payload_bytes);
    if (r.text() != key) {
      why = "built with other options or another copy of the data";
      return CacheRead::Stale;
    }
    const uint32_t word_count = r.get<uint32_t>();
    r.need(word_count, sizeof(uint32_t));
    std::vector<std::string> words;
    words.reserve(word_count);
    for (uint32_t i = 0; i < word_count; ++i) words.push_back(r.text());
    Dataset loaded;
    try {
      loaded.vocab = Vocab::from_words(std::move(words));
    } catch (const Error& e) {
      throw Corrupted{e.what()};
    }
    loaded.train = read_set(r, loaded.vocab.size(), "train");
    loaded.validation = read_set(r, loaded.vocab.size(), "validation");
    loaded.test = read_set(r, loaded.vocab.size(), "test");
    if (r.left() != 0) throw Corrupted{"bytes left after the test split"};
    data.vocab = std::move(loaded.vocab);
    data.train = std::move(loaded.train);
    data.validation = std::move(loaded.validation);
    data.test = std::move(loaded.test);
    return CacheRead::Loaded;
  } catch (const Corrupted& c) {
    why = c.why;
    return CacheRead::Corrupt;
  }
}

}  // namespace rnnb
