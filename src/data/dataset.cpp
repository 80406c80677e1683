// Dataset loading: read, split, count, numericalize, and the token cache around it.
#include "data/dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "data/dataset_cache.h"
#include "data/imdb_source.h"
#include "data/tokenizer.h"
#include "data/tokenized_corpus.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/rng.h"

namespace fs = std::filesystem;

namespace rnnb {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format_seconds(double s) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f s", s);
  return buffer;
}

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec) return fs::absolute(path).lexically_normal().string();
  return resolved.string();
}

// "size:mtime" of a file, or of a folder and the four review folders below it (adding or
// removing a review changes its folder's mtime).
std::string source_stamp(const std::string& path) {
  auto stamp = [](const std::string& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return std::string("-");
    return std::to_string(static_cast<long long>(st.st_size)) + ":" +
           std::to_string(static_cast<long long>(st.st_mtim.tv_sec)) + "." +
           std::to_string(static_cast<long long>(st.st_mtim.tv_nsec));
  };
  std::string result = stamp(path);
  if (is_directory(path)) {
    for (const fs::path& root : {fs::path(path), fs::path(path) / "aclImdb"})
      for (const char* sub : {"train/pos", "train/neg", "test/pos", "test/neg"})
        if (is_directory((root / sub).string())) {
          result += ',';
          result += stamp((root / sub).string());
        }
  }
  return result;
}

std::string cache_key(const std::string& source, const DataOptions& o) {
  char fraction[32];
  std::snprintf(fraction, sizeof fraction, "%.9g", static_cast<double>(o.val_fraction));
  return "imdb-tokens source=" + source + " stamp=" + source_stamp(source) +
         " min_freq=" + std::to_string(o.min_freq) + " max_vocab=" + std::to_string(o.max_vocab) +
         " seed=" + std::to_string(o.seed) + " val_fraction=" + fraction +
         " train_limit=" + std::to_string(o.train_limit) +
         " test_limit=" + std::to_string(o.test_limit);
}

std::string cache_file_name(const std::string& key) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : key) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  char name[48];
  std::snprintf(name, sizeof name, "imdb-tokens-%016llx.bin", static_cast<unsigned long long>(hash));
  return name;
}

void check_options(const DataOptions& o) {
  if (!(o.val_fraction >= 0.0f && o.val_fraction < 1.0f))
    fail("--val-fraction must be in [0, 1), got " + std::to_string(o.val_fraction));
  if (o.min_freq < 1) fail("--min-freq must be at least 1");
  if (o.max_vocab < 0 || o.max_vocab == 1)
    fail("--max-vocab must be 0 (no limit) or at least 2 (it counts <pad> and <unk>)");
  if (o.max_len < 0) fail("--max-len must be 0 (no limit) or positive");
  if (o.train_limit < 0 || o.test_limit < 0) fail("review limits must be 0 (all) or positive");
}

// Reviews [begin, end) of the corpus as a TokenizedSplit, through the word -> vocabulary map.
TokenizedSplit slice_split(const TokenizedCorpus& corpus, size_t begin, size_t end,
                         const std::vector<uint8_t>& labels, const std::vector<int32_t>& remap) {
  TokenizedSplit set;
  const int64_t first = corpus.offsets[begin];
  set.tokens.reserve(static_cast<size_t>(corpus.offsets[end] - first));
  for (int64_t k = first; k < corpus.offsets[end]; ++k) {
    const int32_t id = corpus.ids[static_cast<size_t>(k)];
    set.tokens.push_back(id < 0 ? kUnkId : remap[static_cast<size_t>(id)]);
  }
  set.offsets.reserve(end - begin + 1);
  for (size_t i = begin; i < end; ++i) set.offsets.push_back(corpus.offsets[i + 1] - first);
  set.labels.assign(labels.begin() + static_cast<std::ptrdiff_t>(begin),
                    labels.begin() + static_cast<std::ptrdiff_t>(end));
  return set;
}

std::vector<int32_t> sorted_prefix(const std::vector<int32_t>& order, size_t begin, size_t end) {
  std::vector<int32_t> part(order.begin() + static_cast<std::ptrdiff_t>(begin),
                            order.begin() + static_cast<std::ptrdiff_t>(end));
  std::sort(part.begin(), part.end());
  return part;
}

Dataset build_dataset(const std::string& source, const DataOptions& options, std::ostream* log) {
  auto start = Clock::now();
  ImdbReviews raw = read_imdb(source);
  if (log)
    *log << "data: read " << raw.train.size() << " training and " << raw.test.size()
         << " test reviews from " << source << " in " << format_seconds(seconds_since(start))
         << "\n";

  // Which reviews go where: one seeded shuffle, the limit subset first, then the split.
  start = Clock::now();
  Rng rng(options.seed);
  std::vector<int32_t> order(raw.train.size());
  std::iota(order.begin(), order.end(), 0);
  rng.shuffle(order);
  if (options.train_limit > 0 && static_cast<size_t>(options.train_limit) < order.size())
    order.resize(static_cast<size_t>(options.train_limit));
  const size_t validation_count = static_cast<size_t>(
      std::llround(static_cast<double>(options.val_fraction) * static_cast<double>(order.size())));
  if (validation_count >= order.size())
    fail("no training reviews left: " + std::to_string(order.size()) + " reviews, " +
         std::to_string(validation_count) + " of them for validation");
  const std::vector<int32_t> validation_ids = sorted_prefix(order, 0, validation_count);
  const std::vector<int32_t> train_ids = sorted_prefix(order, validation_count, order.size());
  std::vector<int32_t> test_order(raw.test.size());
  std::iota(test_order.begin(), test_order.end(), 0);
  if (options.test_limit > 0 && static_cast<size_t>(options.test_limit) < test_order.size()) {
    rng.shuffle(test_order);
    test_order.resize(static_cast<size_t>(options.test_limit));
  }
  const std::vector<int32_t> test_ids = sorted_prefix(test_order, 0, test_order.size());

  // Tokenize every review once into provisional ids, counting only the training part.
  std::vector<std::string_view> texts;
  std::vector<uint8_t> labels;
  texts.reserve(train_ids.size() + validation_ids.size() + test_ids.size());
  labels.reserve(texts.capacity());
  for (const auto* part : {&train_ids, &validation_ids})
    for (int32_t i : *part) {
      texts.push_back(raw.train[static_cast<size_t>(i)].text);
      labels.push_back(raw.train[static_cast<size_t>(i)].label);
    }
  for (int32_t i : test_ids) {
    texts.push_back(raw.test[static_cast<size_t>(i)].text);
    labels.push_back(raw.test[static_cast<size_t>(i)].label);
  }
  TokenizedCorpus corpus = tokenize_corpus(texts, train_ids.size());
  texts.clear();
  raw = ImdbReviews{};  // the text is no longer needed

  std::vector<std::pair<std::string, int64_t>> frequent;
  for (size_t id = 0; id < corpus.counts.size(); ++id)
    if (corpus.counts[id] >= options.min_freq)
      frequent.emplace_back(std::string(corpus.words.word(static_cast<int32_t>(id))), corpus.counts[id]);
  Dataset data;
  data.vocab = Vocab::build(std::move(frequent), options.min_freq, options.max_vocab);
  std::vector<int32_t> remap(static_cast<size_t>(corpus.words.size()), kUnkId);
  for (int32_t id = 2; id < data.vocab.size(); ++id) {
    // Every vocabulary word came from the corpus, so this finds its existing entry.
    remap[static_cast<size_t>(corpus.words.intern(data.vocab.word(id)))] = id;
  }
  const size_t train_end = train_ids.size();
  const size_t validation_end = train_end + validation_ids.size();
  data.train = slice_split(corpus, 0, train_end, labels, remap);
  data.validation = slice_split(corpus, train_end, validation_end, labels, remap);
  data.test = slice_split(corpus, validation_end, labels.size(), labels, remap);
  if (log)
    *log << "data: tokenized " << data.train.size() << " train / " << data.validation.size()
         << " validation / " << data.test.size() << " test reviews, vocabulary "
         << data.vocab.size() << " of " << corpus.words.size() << " distinct tokens (min_freq "
         << options.min_freq << ", max_vocab " << options.max_vocab << ") in "
         << format_seconds(seconds_since(start)) << "\n";
  return data;
}

}  // namespace

void truncate_reviews(TokenizedSplit& set, int max_len, bool keep_last) {
  if (max_len <= 0) return;
  bool any_long = false;
  for (size_t i = 0; i < set.size() && !any_long; ++i) any_long = set.length(i) > max_len;
  if (!any_long) return;
  TokenizedSplit cut;
  cut.tokens.reserve(set.tokens.size());
  cut.offsets.reserve(set.offsets.size());
  cut.labels.reserve(set.labels.size());
  for (size_t i = 0; i < set.size(); ++i) {
    const int length = set.length(i);
    const int keep = std::min(length, max_len);
    const int32_t* first = set.review(i) + (keep_last ? length - keep : 0);
    cut.add(first, static_cast<size_t>(keep), set.labels[i]);
  }
  set = std::move(cut);
}

Dataset load_dataset(const DataOptions& options, std::ostream* log) {
  check_options(options);
  const std::string source = absolute_path(find_dataset(options.path));
  const std::string key = cache_key(source, options);
  std::string cache_path;
  if (!options.cache_dir.empty())
    cache_path = (fs::path(options.cache_dir) / cache_file_name(key)).string();

  Dataset data;
  bool loaded = false;
  if (!cache_path.empty()) {
    const auto start = Clock::now();
    std::string why;
    switch (read_dataset_cache(cache_path, key, data, why)) {
      case CacheRead::Loaded:
        loaded = true;
        if (log)
          *log << "data: loaded " << data.train.size() << " train / " << data.validation.size()
               << " validation / " << data.test.size() << " test reviews from cache "
               << cache_path << " in " << format_seconds(seconds_since(start)) << "\n";
        break;
      case CacheRead::Missing:
        break;
      case CacheRead::Stale:
        if (log) *log << "data: cache " << cache_path << " is out of date (" << why << "); rebuilding\n";
        break;
      case CacheRead::Corrupt:
        if (log) *log << "warning: cache " << cache_path << " is corrupt (" << why << "); rebuilding\n";
        break;
    }
  }
  if (!loaded) {
    data = build_dataset(source, options, log);
    if (!cache_path.empty()) {
      try {
        make_directories(options.cache_dir);
        write_dataset_cache(cache_path, key, data);
        if (log) *log << "data: wrote cache " << cache_path << "\n";
      } catch (const Error& e) {
        if (log) *log << "warning: " << e.what() << "; continuing without a cache\n";
      }
    }
  }
  data.source = source;
  data.from_cache = loaded;
  truncate_reviews(data.train, options.max_len, options.truncate_pre);
  truncate_reviews(data.validation, options.max_len, options.truncate_pre);
  truncate_reviews(data.test, options.max_len, options.truncate_pre);
  return data;
}

}  // namespace rnnb
