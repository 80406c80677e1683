// Multi-threaded tokenizing: per-thread word tables, merged into one afterwards.
#include "data/tokenized_corpus.h"

#include <algorithm>
#include <thread>

#include "data/tokenizer.h"

namespace rnnb {
namespace {

struct Part {
  WordTable words;
  std::vector<int64_t> counts;
  std::vector<int32_t> ids;
  std::vector<int64_t> ends;  // end of each review within ids
};

void tokenize_part(const std::vector<std::string_view>& texts, size_t begin, size_t end,
                   size_t counted, Part& part) {
  std::string lowered;
  std::vector<std::string_view> tokens;
  part.ends.reserve(end - begin);
  size_t bytes = 0;
  for (size_t i = begin; i < end; ++i) bytes += texts[i].size();
  part.ids.reserve(bytes / 4);  // about one token per 4.5 bytes of review text
  for (size_t i = begin; i < end; ++i) {
    tokenize(texts[i], lowered, tokens);
    const bool counting = i < counted;
    for (std::string_view token : tokens) {
      const int32_t id = part.words.intern(token);
      if (static_cast<size_t>(id) >= part.counts.size()) part.counts.push_back(0);
      if (counting) ++part.counts[static_cast<size_t>(id)];
      part.ids.push_back(id);
    }
    if (tokens.empty()) part.ids.push_back(-1);
    part.ends.push_back(static_cast<int64_t>(part.ids.size()));
  }
}

}  // namespace

TokenizedCorpus tokenize_corpus(const std::vector<std::string_view>& texts, size_t counted,
                                int threads) {
  if (threads <= 0) threads = static_cast<int>(std::min(8u, std::max(1u, std::thread::hardware_concurrency())));
  // Small inputs are not worth a thread each.
  const size_t parts_count = std::clamp<size_t>(texts.size() / 2000, 1, static_cast<size_t>(threads));
  std::vector<Part> parts(parts_count);
  std::vector<std::thread> workers;
  for (size_t p = 0; p < parts_count; ++p) {
    const size_t begin = texts.size() * p / parts_count;
    const size_t end = texts.size() * (p + 1) / parts_count;
    if (p + 1 == parts_count) {
      tokenize_part(texts, begin, end, counted, parts[p]);  // this thread takes the last part
    } else {
      workers.emplace_back(
          [&, begin, end, p] { tokenize_part(texts, begin, end, counted, parts[p]); });
    }
  }
  for (std::thread& worker : workers) worker.join();

  TokenizedCorpus corpus;
  if (parts.size() == 1) {  // one part: its numbering is the corpus's
    Part& part = parts[0];
    corpus.words = std::move(part.words);
    corpus.counts = std::move(part.counts);
    corpus.ids = std::move(part.ids);
    corpus.offsets.insert(corpus.offsets.end(), part.ends.begin(), part.ends.end());
    return corpus;
  }
  size_t total_ids = 0;
  for (const Part& part : parts) total_ids += part.ids.size();
  corpus.ids.resize(total_ids);
  corpus.offsets.reserve(texts.size() + 1);
  int32_t* out = corpus.ids.data();
  for (Part& part : parts) {
    std::vector<int32_t> to_global(static_cast<size_t>(part.words.size()));
    for (int32_t id = 0; id < part.words.size(); ++id) {
      const int32_t global = corpus.words.intern(part.words.word(id));
      if (static_cast<size_t>(global) >= corpus.counts.size()) corpus.counts.push_back(0);
      corpus.counts[static_cast<size_t>(global)] += part.counts[static_cast<size_t>(id)];
      to_global[static_cast<size_t>(id)] = global;
    }
    const int64_t base = out - corpus.ids.data();
    for (int32_t id : part.ids) *out++ = id < 0 ? -1 : to_global[static_cast<size_t>(id)];
    for (int64_t end : part.ends) corpus.offsets.push_back(base + end);
    part = Part{};  // free as we go
  }
  return corpus;
}

}  // namespace rnnb
