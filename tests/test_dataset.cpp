// IMDB sources (folder, tar, tar.gz), dataset lookup, the seeded split, vocabulary built on
// training reviews only, the token cache (round trip, invalidation, corruption) and the
// data report; one test reads the real dataset when it is present.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "data/dataset.h"
#include "support/test_data.h"
#include "data/imdb_source.h"
#include "data/tokenizer.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace rnnb {
namespace {

constexpr int kTrainPerLabel = 20;
constexpr int kTestPerLabel = 10;

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Training review `index` has a unique length (index + 3 tokens): "w<index>", index + 1
// times "film", then its label word. That identifies reviews after the split.
std::string train_review(int index, bool positive) {
  std::string text = "W" + std::to_string(index);
  for (int i = 0; i <= index; ++i) text += (i % 3 == 0) ? " Film<br /><br />" : " film";
  return text + (positive ? " great" : " bad");
}

// Every file of a small aclImdb tree, by relative path, with the extras the official
// archive holds that must be ignored.
std::vector<std::pair<std::string, std::string>> tree_files() {
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 2 * kTrainPerLabel; ++i) {
    const bool positive = i % 2 == 0;
    const std::string label = positive ? "pos" : "neg";
    // Review 39 (negative) is empty: it must come out as the single token <unk>.
    const std::string text = i == 39 ? " <br /> \n" : train_review(i, positive);
    files.emplace_back("aclImdb/train/" + label + "/" + std::to_string(i) + "_" +
                           (positive ? "9" : "2") + ".txt",
                       text);
  }
  for (int i = 0; i < 2 * kTestPerLabel; ++i) {
    const bool positive = i < kTestPerLabel;
    files.emplace_back("aclImdb/test/" + std::string(positive ? "pos" : "neg") + "/" +
                           std::to_string(i) + "_5.txt",
                       "testonlyword film " + std::string(positive ? "great" : "bad"));
  }
  files.emplace_back("aclImdb/README", "Large Movie Review Dataset");
  files.emplace_back("aclImdb/imdb.vocab", "film\ngreat\n");
  files.emplace_back("aclImdb/train/unsup/0_0.txt", "unlabeled review");
  files.emplace_back("aclImdb/train/labeledBow.feat", "0 9:1");
  files.emplace_back("aclImdb/train/urls_pos.txt", "http://example.com");
  files.emplace_back("aclImdb/test/pos/notes.md", "not a review");
  return files;
}

void write_tree(const std::string& root) {
  for (const auto& [name, text] : tree_files()) write_text(root + "/" + name, text);
}

// A minimal ustar writer (directories and regular files) and gzip.
std::vector<uint8_t> make_tar(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<uint8_t> tar;
  auto add = [&](const std::string& name, const std::string& data, char type) {
    uint8_t h[512] = {};
    std::memcpy(h, name.data(), name.size());
    std::snprintf(reinterpret_cast<char*>(h + 100), 8, "%07o", 0644);
    std::snprintf(reinterpret_cast<char*>(h + 124), 12, "%011llo",
                  static_cast<unsigned long long>(data.size()));
    h[156] = static_cast<uint8_t>(type);
    std::memcpy(h + 257, "ustar\0" "00", 8);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (uint8_t b : h) sum += b;
    std::snprintf(reinterpret_cast<char*>(h + 148), 8, "%06o", sum);
    tar.insert(tar.end(), h, h + 512);
    tar.insert(tar.end(), data.begin(), data.end());
    tar.resize(tar.size() + (512 - data.size() % 512) % 512, 0);
  };
  std::set<std::string> dirs;
  for (const auto& [name, text] : files) {
    for (fs::path dir = fs::path(name).parent_path(); !dir.empty(); dir = dir.parent_path())
      if (dirs.insert(dir.string()).second) add(dir.string() + "/", "", '5');
    add(name, text, '0');
  }
  tar.resize(tar.size() + 1024, 0);
  return tar;
}

std::vector<uint8_t> gzip(const std::vector<uint8_t>& data) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::vector<uint8_t> out(deflateBound(&z, data.size()) + 64);
  z.next_in = const_cast<Bytef*>(data.data());
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void expect_same_reviews(const ImdbReviews& a, const ImdbReviews& b) {
  ASSERT_EQ(a.train.size(), b.train.size());
  ASSERT_EQ(a.test.size(), b.test.size());
  for (size_t i = 0; i < a.train.size(); ++i) {
    EXPECT_EQ(a.train[i].text, b.train[i].text) << i;
    EXPECT_EQ(a.train[i].label, b.train[i].label) << i;
  }
  for (size_t i = 0; i < a.test.size(); ++i) EXPECT_EQ(a.test[i].text, b.test[i].text) << i;
}

void expect_same_set(const TokenizedSplit& a, const TokenizedSplit& b) {
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(a.labels, b.labels);
}

void expect_same_dataset(const Dataset& a, const Dataset& b) {
  EXPECT_EQ(a.vocab.words(), b.vocab.words());
  expect_same_set(a.train, b.train);
  expect_same_set(a.validation, b.validation);
  expect_same_set(a.test, b.test);
}

std::multiset<int> lengths_of(const TokenizedSplit& set) {
  std::multiset<int> lengths;
  for (size_t i = 0; i < set.size(); ++i) lengths.insert(set.length(i));
  return lengths;
}

// Fixture: one tiny tree (folder + tar + tar.gz) for the whole suite.
class ImdbData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    write_tree(dir_->string() + "/extracted");
    const auto tar = make_tar(tree_files());
    write_bytes(*dir_ / "aclImdb.tar", tar);
    write_bytes(*dir_ / "aclImdb.tar.gz", gzip(tar));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string folder() { return *dir_ / "extracted/aclImdb"; }
  static std::string archive() { return *dir_ / "aclImdb.tar.gz"; }
  static std::string path(const std::string& name) { return *dir_ / name; }

  DataOptions options(const std::string& cache_dir = "") const {
    DataOptions o;
    o.path = archive();
    o.cache_dir = cache_dir;
    o.min_freq = 1;
    return o;
  }

  static test::TempDir* dir_;
};
test::TempDir* ImdbData::dir_ = nullptr;

TEST_F(ImdbData, ReadsOnlyLabeledReviewsInPathOrder) {
  const ImdbReviews reviews = read_imdb(folder());
  ASSERT_EQ(reviews.train.size(), 2u * kTrainPerLabel);
  ASSERT_EQ(reviews.test.size(), 2u * kTestPerLabel);
  // neg/ sorts before pos/, names in byte order: neg/11_2.txt, neg/13_2.txt, ... neg/1_2.txt
  EXPECT_EQ(reviews.train.front().label, 0);
  EXPECT_EQ(reviews.train.front().text, train_review(11, false));
  EXPECT_EQ(reviews.train[1].text, train_review(13, false));
  EXPECT_EQ(reviews.train.back().label, 1);
  EXPECT_EQ(reviews.train.back().text, train_review(8, true));
  for (const auto& review : reviews.train) EXPECT_EQ(review.text.find("unlabeled"), std::string::npos);
}

TEST_F(ImdbData, FolderParentTarAndTarGzAgree) {
  const ImdbReviews from_folder = read_imdb(folder());
  expect_same_reviews(from_folder, read_imdb(path("extracted")));
  expect_same_reviews(from_folder, read_imdb(path("aclImdb.tar")));
  expect_same_reviews(from_folder, read_imdb(archive()));
}

TEST_F(ImdbData, UnusableSourcesAreErrors) {
  EXPECT_THROW(read_imdb(path("missing.tar.gz")), Error);
  test::TempDir dir;
  write_bytes(dir / "other.tar.gz", gzip(make_tar({{"docs/readme.txt", "hello"}})));
  EXPECT_THROW(read_imdb(dir / "other.tar.gz"), Error);
  write_bytes(dir / "positive.tar",
              make_tar({{"aclImdb/train/pos/1_9.txt", "good"}, {"aclImdb/test/pos/1_9.txt", "good"},
                        {"aclImdb/test/neg/1_1.txt", "bad"}}));
  try {
    read_imdb(dir / "positive.tar");
    ADD_FAILURE() << "a split with one label was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("both labels"), std::string::npos) << e.what();
  }
  write_text(dir / "plain/notes.txt", "x");
  EXPECT_THROW(read_imdb(dir / "plain"), Error);
}

TEST_F(ImdbData, FindDatasetPrefersExplicitPathThenEnvironment) {
  EXPECT_EQ(find_dataset(archive()), archive());
  EXPECT_THROW(find_dataset(path("missing")), Error);
  const char* saved = std::getenv("RNNB_DATA");
  const std::string previous = saved ? saved : "";
  ::setenv("RNNB_DATA", folder().c_str(), 1);
  EXPECT_EQ(find_dataset(""), folder());
  EXPECT_EQ(find_dataset(archive()), archive());
  ::setenv("RNNB_DATA", path("missing").c_str(), 1);
  EXPECT_THROW(find_dataset(""), Error);
  if (saved) ::setenv("RNNB_DATA", previous.c_str(), 1);
  else ::unsetenv("RNNB_DATA");
}

TEST_F(ImdbData, SplitIsSeededDisjointAndComplete) {
  const Dataset a = load_dataset(options(), nullptr);
  EXPECT_FALSE(a.from_cache);
  EXPECT_EQ(a.train.size(), 32u);  // 40 - round(0.2 * 40)
  EXPECT_EQ(a.validation.size(), 8u);
  EXPECT_EQ(a.test.size(), 2u * kTestPerLabel);
  EXPECT_EQ(a.source, fs::canonical(archive()).string());

  // Lengths identify training reviews: together the two splits hold each exactly once.
  std::multiset<int> all = lengths_of(a.train);
  for (int length : lengths_of(a.validation)) all.insert(length);
  std::multiset<int> expected{1};  // the empty review, as [<unk>]
  for (int i = 0; i < 2 * kTrainPerLabel - 1; ++i) expected.insert(i + 3);
  EXPECT_EQ(all, expected);

  const Dataset again = load_dataset(options(), nullptr);
  expect_same_dataset(a, again);

  DataOptions other_seed = options();
  other_seed.seed = 2;
  const Dataset b = load_dataset(other_seed, nullptr);
  EXPECT_EQ(b.validation.size(), 8u);
  EXPECT_NE(lengths_of(a.validation), lengths_of(b.validation));
}

TEST_F(ImdbData, VocabularyComesFromTrainingReviewsOnly) {
  const Dataset data = load_dataset(options(), nullptr);
  // Each training review's own word "w<i>" is known; each validation review's is not.
  for (size_t i = 0; i < data.train.size(); ++i) {
    if (data.train.length(i) == 1) continue;  // the empty review
    EXPECT_NE(data.train.review(i)[0], kUnkId) << i;
  }
  for (size_t i = 0; i < data.validation.size(); ++i) {
    if (data.validation.length(i) == 1) continue;
    EXPECT_EQ(data.validation.review(i)[0], kUnkId) << i;
  }
  EXPECT_EQ(data.vocab.id("testonlyword"), kUnkId);
  EXPECT_NE(data.vocab.id("film"), kUnkId);
  EXPECT_EQ(data.vocab.word(2), "film");  // the most frequent word
  EXPECT_EQ(data.test.review(0)[0], kUnkId);
}

TEST_F(ImdbData, EveryReviewHasATokenAndLabelsMatchTheFolders) {
  const Dataset data = load_dataset(options(), nullptr);
  const int32_t great = data.vocab.id("great");
  const int32_t bad = data.vocab.id("bad");
  for (const TokenizedSplit* set : {&data.train, &data.validation, &data.test}) {
    for (size_t i = 0; i < set->size(); ++i) {
      ASSERT_GE(set->length(i), 1);
      if (set->length(i) == 1) {
        EXPECT_EQ(set->review(i)[0], kUnkId);
        continue;
      }
      const int32_t last = set->review(i)[set->length(i) - 1];
      EXPECT_EQ(last, set->labels[i] ? great : bad) << i;
    }
  }
}

TEST_F(ImdbData, LimitsTakeSeededSubsets) {
  DataOptions o = options();
  o.train_limit = 20;
  o.test_limit = 5;
  const Dataset a = load_dataset(o, nullptr);
  EXPECT_EQ(a.train.size(), 16u);
  EXPECT_EQ(a.validation.size(), 4u);
  EXPECT_EQ(a.test.size(), 5u);
  expect_same_dataset(a, load_dataset(o, nullptr));
}

TEST_F(ImdbData, MaxLenKeepsTheFirstOrLastTokens) {
  DataOptions o = options();
  o.max_len = 2;
  const Dataset head = load_dataset(o, nullptr);
  o.truncate_pre = true;
  const Dataset tail = load_dataset(o, nullptr);
  const int32_t film = head.vocab.id("film");
  for (size_t i = 0; i < head.train.size(); ++i) {
    ASSERT_LE(head.train.length(i), 2);
    if (head.train.length(i) < 2) continue;
    EXPECT_EQ(head.train.review(i)[1], film);
    const int32_t last = tail.train.review(i)[1];
    EXPECT_EQ(last, head.vocab.id(tail.train.labels[i] ? "great" : "bad"));
  }
}

TEST_F(ImdbData, CacheRoundTripsAndFollowsOptions) {
  test::TempDir cache;
  std::ostringstream log;
  const Dataset built = load_dataset(options(cache.string()), &log);
  EXPECT_FALSE(built.from_cache);
  EXPECT_NE(log.str().find("wrote cache"), std::string::npos) << log.str();

  const Dataset cached = load_dataset(options(cache.string()), &log);
  EXPECT_TRUE(cached.from_cache);
  EXPECT_EQ(cached.source, built.source);
  expect_same_dataset(built, cached);

  // max_len is applied after loading, so it reuses the same cache.
  DataOptions short_reviews = options(cache.string());
  short_reviews.max_len = 3;
  const Dataset cut = load_dataset(short_reviews, nullptr);
  EXPECT_TRUE(cut.from_cache);
  for (size_t i = 0; i < cut.train.size(); ++i) EXPECT_LE(cut.train.length(i), 3);

  // Anything that changes the contents gives another cache.
  DataOptions rarer = options(cache.string());
  rarer.min_freq = 2;
  const Dataset other = load_dataset(rarer, nullptr);
  EXPECT_FALSE(other.from_cache);
  EXPECT_LT(other.vocab.size(), built.vocab.size());
  DataOptions reseeded = options(cache.string());
  reseeded.seed = 7;
  EXPECT_FALSE(load_dataset(reseeded, nullptr).from_cache);
  EXPECT_TRUE(load_dataset(rarer, nullptr).from_cache);
  EXPECT_TRUE(load_dataset(options(cache.string()), nullptr).from_cache);

  DataOptions no_cache = options("");
  EXPECT_FALSE(load_dataset(no_cache, nullptr).from_cache);
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

TEST_F(ImdbData, CacheWithAnotherKeyIsRebuilt) {
  test::TempDir cache;
  DataOptions a = options(cache.string());
  DataOptions b = options(cache.string());
  b.val_fraction = 0.5f;
  load_dataset(a, nullptr);
  const auto only_a = files_in(cache.string());
  ASSERT_EQ(only_a.size(), 1u);
  load_dataset(b, nullptr);
  auto both = files_in(cache.string());
  ASSERT_EQ(both.size(), 2u);
  const std::string b_file = both[0] == only_a[0] ? both[1] : both[0];
  fs::copy_file(only_a[0], b_file, fs::copy_options::overwrite_existing);

  std::ostringstream log;
  const Dataset rebuilt = load_dataset(b, &log);
  EXPECT_FALSE(rebuilt.from_cache);
  EXPECT_EQ(rebuilt.validation.size(), 20u);
  EXPECT_NE(log.str().find("out of date"), std::string::npos) << log.str();
  EXPECT_TRUE(load_dataset(b, nullptr).from_cache);
}

TEST_F(ImdbData, CorruptCacheIsRebuiltWithAWarning) {
  test::TempDir cache;
  const Dataset original = load_dataset(options(cache.string()), nullptr);
  const std::string file = files_in(cache.string()).at(0);
  const std::string good = read_text(file);

  std::vector<std::string> damaged;
  for (size_t at : {size_t{0}, size_t{20}, size_t{40}, good.size() / 2, good.size() - 1}) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x20);
    damaged.push_back(bad);
  }
  damaged.push_back(good.substr(0, good.size() / 2));
  damaged.push_back(good.substr(0, 10));
  damaged.push_back(good + "extra");
  for (size_t k = 0; k < damaged.size(); ++k) {
    write_text(file, damaged[k]);
    std::ostringstream log;
    Dataset rebuilt;
    ASSERT_NO_THROW(rebuilt = load_dataset(options(cache.string()), &log)) << "damage " << k;
    EXPECT_FALSE(rebuilt.from_cache) << "damage " << k;
    EXPECT_NE(log.str().find("is corrupt"), std::string::npos) << "damage " << k << ": " << log.str();
    EXPECT_NE(log.str().find("rebuilding"), std::string::npos) << log.str();
    expect_same_dataset(original, rebuilt);
    EXPECT_EQ(read_text(file), good) << "damage " << k << ": the cache was not rewritten";
  }
}

TEST(DataReport, CountsLengthsLabelsAndUnknowns) {
  Dataset data;
  for (int length = 1; length <= 10; ++length) {
    std::vector<int32_t> ids(static_cast<size_t>(length), 2);
    ids[0] = kUnkId;
    data.train.add(ids.data(), ids.size(), length <= 3 ? 1 : 0);
  }
  data.vocab = Vocab::from_words({"<pad>", "<unk>", "w"});
  const DataReport report = make_data_report(data);
  ASSERT_EQ(report.splits.size(), 3u);
  const SplitReport& train = report.splits[0];
  EXPECT_EQ(train.reviews, 10);
  EXPECT_EQ(train.positive, 3);
  EXPECT_EQ(train.negative, 7);
  EXPECT_EQ(train.tokens, 55);
  EXPECT_EQ(train.unk_tokens, 10);
  EXPECT_EQ(train.min_length, 1);
  EXPECT_EQ(train.p50, 5);
  EXPECT_EQ(train.p90, 9);
  EXPECT_EQ(train.p99, 10);
  EXPECT_EQ(train.max_length, 10);
  EXPECT_DOUBLE_EQ(train.mean_length, 5.5);
  EXPECT_EQ(report.splits[1].reviews, 0);
  std::ostringstream out;
  print_data_report(data, out);
  EXPECT_NE(out.str().find("validation"), std::string::npos);
  EXPECT_NE(out.str().find("18.18%"), std::string::npos) << out.str();
}

TEST(RealImdb, SubsetLoadsWithBothLabels) {
  RNNB_IMDB_OR_SKIP(path);
  DataOptions o;
  o.path = path;
  o.cache_dir = "";
  o.train_limit = 2000;
  o.test_limit = 500;
  const Dataset data = load_dataset(o, nullptr);
  EXPECT_EQ(data.train.size(), 1600u);
  EXPECT_EQ(data.validation.size(), 400u);
  EXPECT_EQ(data.test.size(), 500u);
  for (const TokenizedSplit* set : {&data.train, &data.validation, &data.test}) {
    const auto positive = std::count(set->labels.begin(), set->labels.end(), uint8_t{1});
    EXPECT_GT(positive, 0);
    EXPECT_LT(static_cast<size_t>(positive), set->size());
  }
  EXPECT_GT(data.vocab.size(), 1000);
  const DataReport report = make_data_report(data);
  EXPECT_GT(report.splits[0].mean_length, 150.0);
  EXPECT_LT(report.splits[0].mean_length, 400.0);
}

}  // namespace
}  // namespace rnnb
