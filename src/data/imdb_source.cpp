// IMDB review reader (tar, tar.gz or folder) and dataset lookup.
#include "data/imdb_source.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string_view>

#include "data/gzip_stream.h"
#include "data/tar_reader.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace rnnb {
namespace {

// The official archive holds bag-of-words files of tens of MiB; they are skipped, never
// read into memory, but the reader must let them pass.
constexpr uint64_t kMaxArchiveEntry = uint64_t{1} << 30;
// A single review is a few KiB; anything this large is not a review.
constexpr uint64_t kMaxReviewBytes = uint64_t{64} << 20;

struct KeyedReview {
  std::string key;  // path inside the split: "pos/123_9.txt"
  LabeledReview review;
};

struct Collected {
  std::vector<KeyedReview> train, test;
};

// Splits ".../{train,test}/{pos,neg}/<file>.txt" into its split and key; false otherwise.
bool parse_review_path(std::string_view path, bool& is_train, uint8_t& label, std::string& key) {
  auto last_component = [](std::string_view& rest) {
    const size_t slash = rest.rfind('/');
    std::string_view part = slash == std::string_view::npos ? rest : rest.substr(slash + 1);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(0, slash);
    return part;
  };
  std::string_view rest = path;
  const std::string_view file = last_component(rest);
  if (file.size() <= 4 || !file.ends_with(".txt")) return false;
  const std::string_view label_dir = last_component(rest);
  if (label_dir != "pos" && label_dir != "neg") return false;
  const std::string_view split_dir = last_component(rest);
  if (split_dir != "train" && split_dir != "test") return false;
  is_train = split_dir == "train";
  label = label_dir == "pos" ? 1 : 0;
  key.assign(label_dir);
  key += '/';
  key += file;
  return true;
}

void read_archive(const std::string& path, Collected& out) {
  std::unique_ptr<ByteSource> source = open_byte_source(path);
  TarReader reader(*source, kMaxArchiveEntry);
  bool is_train = false;
  uint8_t label = 0;
  std::string key;
  while (auto entry = reader.next()) {
    if (entry->type != TarEntryType::File) continue;
    if (!parse_review_path(entry->name, is_train, label, key)) continue;
    if (entry->size > kMaxReviewBytes)
      fail("review " + entry->name + " in " + path + " is " + std::to_string(entry->size) +
           " bytes: not a review (corrupt archive?)");
    KeyedReview item{key, {std::string(), label}};
    reader.read_contents(item.review.text);
    (is_train ? out.train : out.test).push_back(std::move(item));
  }
}

std::string read_small_file(const fs::path& file) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(file, ec);
  if (ec) fail("cannot read " + file.string() + ": " + ec.message());
  if (size > kMaxReviewBytes)
    fail("review " + file.string() + " is " + std::to_string(size) + " bytes: not a review");
  std::string text(static_cast<size_t>(size), '\0');
  FileSource source(file.string());
  const size_t got = source.read(text.data(), text.size());
  text.resize(got);  // the file may have shrunk meanwhile; take what is there
  return text;
}

// The aclImdb folder: `path` itself, or `path`/aclImdb.
fs::path imdb_root(const std::string& path) {
  const fs::path given(path);
  if (is_directory((given / "train").string()) || is_directory((given / "test").string()))
    return given;
  if (is_directory((given / "aclImdb").string())) return given / "aclImdb";
  fail(path + " is a folder but neither an aclImdb folder (with train/ and test/) nor one "
       "that holds aclImdb/");
}

void read_folder(const std::string& path, Collected& out) {
  const fs::path root = imdb_root(path);
  for (const char* split : {"train", "test"}) {
    for (const char* label : {"pos", "neg"}) {
      const fs::path dir = root / split / label;
      if (!is_directory(dir.string())) continue;
      std::error_code ec;
      for (const fs::directory_entry& file : fs::directory_iterator(dir, ec)) {
        const std::string name = file.path().filename().string();
        if (name.size() <= 4 || !name.ends_with(".txt") || !file.is_regular_file()) continue;
        KeyedReview item{std::string(label) + "/" + name,
                         {read_small_file(file.path()), uint8_t(std::string_view(label) == "pos" ? 1 : 0)}};
        (std::string_view(split) == "train" ? out.train : out.test).push_back(std::move(item));
      }
      if (ec) fail("cannot list " + dir.string() + ": " + ec.message());
    }
  }
}

std::vector<LabeledReview> sorted_split(std::vector<KeyedReview>& items, const std::string& path,
                                        const char* split) {
  std::sort(items.begin(), items.end(),
            [](const KeyedReview& a, const KeyedReview& b) { return a.key < b.key; });
  std::vector<LabeledReview> reviews;
  reviews.reserve(items.size());
  size_t positive = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0 && items[i].key == items[i - 1].key)
      fail(path + " holds " + split + "/" + items[i].key + " twice");
    positive += items[i].review.label;
    reviews.push_back(std::move(items[i].review));
  }
  const size_t negative = reviews.size() - positive;
  if (positive == 0 || negative == 0)
    fail(path + ": the " + split + " split has " + std::to_string(positive) + " positive and " +
         std::to_string(negative) + " negative reviews; both labels are needed");
  return reviews;
}

bool path_exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

}  // namespace

ImdbReviews read_imdb(const std::string& path) {
  if (!file_exists(path)) fail("dataset " + path + " does not exist");
  Collected collected;
  if (is_directory(path)) read_folder(path, collected);
  else read_archive(path, collected);
  if (collected.train.empty() && collected.test.empty())
    fail(path + " holds no labeled reviews (expected aclImdb/{train,test}/{pos,neg}/*.txt)");
  ImdbReviews result;
  result.source = path;
  result.train = sorted_split(collected.train, path, "train");
  result.test = sorted_split(collected.test, path, "test");
  return result;
}

std::string find_dataset(const std::string& explicit_path) {
  if (!explicit_path.empty()) {
    if (!path_exists(explicit_path)) fail("dataset " + explicit_path + " (--data) does not exist");
    return explicit_path;
  }
  if (const char* env = std::getenv("RNNB_DATA"); env != nullptr && *env != '\0') {
    if (!path_exists(env)) fail(std::string("dataset ") + env + " (RNNB_DATA) does not exist");
    return env;
  }
  const char* const kOwnNames[] = {"datasets/aclImdb_v1.tar.gz", "datasets/aclImdb"};
  const char* const kSharedName = "shared/datasets/aclImdb_v1_labeled.tar.gz";
  for (const char* name : kOwnNames)
    if (path_exists(name)) return name;
  for (const char* name : {"../shared/datasets/aclImdb_v1_labeled.tar.gz",
                           "../../shared/datasets/aclImdb_v1_labeled.tar.gz"})
    if (path_exists(name)) return name;

  // Beside the executable: its directory and every parent (a build folder inside a clone
  // that has shared/ next to it, or datasets/ in the clone itself).
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (int depth = 0; !ec && !dir.empty() && depth < 8; ++depth) {
    for (const char* name : kOwnNames)
      if (path_exists(dir / name)) return (dir / name).string();
    if (path_exists(dir / kSharedName)) return (dir / kSharedName).string();
    if (dir == dir.root_path()) break;
    dir = dir.parent_path();
  }
  fail("IMDB dataset not found: run datasets/fetch_imdb.sh, or pass --data PATH (or set "
       "RNNB_DATA) to aclImdb_v1.tar.gz or an aclImdb folder");
}

}  // namespace rnnb
