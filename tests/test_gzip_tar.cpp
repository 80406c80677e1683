// Streaming gzip and tar: archives built byte by byte here (ustar, GNU long names, pax),
// compressed with zlib, read back; and every kind of damage reported as an Error.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/gzip_stream.h"
#include "data/tar_reader.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnb {
namespace {

using Bytes = std::vector<uint8_t>;

// ---- Archive construction ---------------------------------------------------------------

enum class Magic { Ustar, Gnu };

void put_octal(uint8_t* field, size_t width, uint64_t value) {
  std::snprintf(reinterpret_cast<char*>(field), width, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
}

void set_checksum(uint8_t* header) {
  std::memset(header + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += header[i];
  std::snprintf(reinterpret_cast<char*>(header + 148), 8, "%06o", sum);
  header[155] = ' ';
}

Bytes header(const std::string& name, uint64_t size, char type, Magic magic = Magic::Ustar,
             const std::string& prefix = "", const std::string& link = "") {
  Bytes h(512, 0);
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 100));
  put_octal(&h[100], 8, 0644);
  put_octal(&h[108], 8, 0);
  put_octal(&h[116], 8, 0);
  put_octal(&h[124], 12, size);
  put_octal(&h[136], 12, 1307836800);
  h[156] = static_cast<uint8_t>(type);
  std::memcpy(&h[157], link.data(), std::min<size_t>(link.size(), 100));
  if (magic == Magic::Ustar) {
    std::memcpy(&h[257], "ustar\0" "00", 8);
    std::memcpy(&h[345], prefix.data(), std::min<size_t>(prefix.size(), 155));
  } else {
    std::memcpy(&h[257], "ustar  \0", 8);
  }
  set_checksum(h.data());
  return h;
}

void append(Bytes& tar, const Bytes& block) { tar.insert(tar.end(), block.begin(), block.end()); }

void append_data(Bytes& tar, const std::string& data) {
  tar.insert(tar.end(), data.begin(), data.end());
  tar.resize(tar.size() + (512 - data.size() % 512) % 512, 0);
}

void add_file(Bytes& tar, const std::string& name, const std::string& data,
              Magic magic = Magic::Ustar, const std::string& prefix = "") {
  append(tar, header(name, data.size(), '0', magic, prefix));
  append_data(tar, data);
}

void add_gnu_long_name(Bytes& tar, const std::string& name, const std::string& data) {
  append(tar, header("././@LongLink", name.size() + 1, 'L', Magic::Gnu));
  append_data(tar, name + '\0');
  add_file(tar, name.substr(0, 99), data, Magic::Gnu);
}

std::string pax_record(const std::string& key, const std::string& value) {
  const std::string body = " " + key + "=" + value + "\n";
  size_t length = body.size() + 1;
  while (std::to_string(length).size() + body.size() != length) ++length;
  return std::to_string(length) + body;
}

void add_pax_file(Bytes& tar, const std::string& name, const std::string& data) {
  const std::string records = pax_record("path", name) + pax_record("mtime", "1307836800.5");
  append(tar, header("PaxHeaders/short", records.size(), 'x'));
  append_data(tar, records);
  add_file(tar, "short", data);
}

void end_archive(Bytes& tar) { tar.resize(tar.size() + 1024, 0); }

Bytes gzip(const Bytes& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&z, data.size()) + 64);
  z.next_in = const_cast<Bytef*>(data.data());
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// ---- Reading helpers --------------------------------------------------------------------

struct Item {
  std::string name;
  TarEntryType type;
  std::string contents;
  std::string link;
};

std::vector<Item> read_all(ByteSource& source, uint64_t limit = TarReader::kDefaultMaxEntrySize) {
  TarReader reader(source, limit);
  std::vector<Item> items;
  while (auto entry = reader.next()) {
    Item item{entry->name, entry->type, "", entry->link_name};
    if (entry->type == TarEntryType::File) reader.read_contents(item.contents);
    items.push_back(item);
  }
  return items;
}

std::vector<Item> read_tar(const Bytes& tar) {
  MemorySource source(tar, "test.tar");
  return read_all(source);
}

std::vector<Item> read_tar_gz(const Bytes& gz) {
  GzipSource source(std::make_unique<MemorySource>(gz, "test.tar.gz"));
  return read_all(source);
}

// Runs `body` and returns the Error message it threw ("" when it did not throw).
template <typename F>
std::string error_of(F&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Bytes sample_archive() {
  Bytes tar;
  append(tar, header("aclImdb/", 0, '5'));
  add_file(tar, "aclImdb/train/pos/0_9.txt", "A fine film.");
  add_file(tar, "aclImdb/empty.txt", "");
  add_file(tar, "aclImdb/block.txt", std::string(512, 'b'));
  add_file(tar, "aclImdb/big.txt", std::string(70000, 'x') + "end");
  end_archive(tar);
  return tar;
}

// ---- Tests ------------------------------------------------------------------------------

TEST(Tar, ReadsUstarEntriesAndContents) {
  const auto items = read_tar(sample_archive());
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].name, "aclImdb/");
  EXPECT_EQ(items[0].type, TarEntryType::Directory);
  EXPECT_EQ(items[1].name, "aclImdb/train/pos/0_9.txt");
  EXPECT_EQ(items[1].contents, "A fine film.");
  EXPECT_EQ(items[2].contents, "");
  EXPECT_EQ(items[3].contents, std::string(512, 'b'));
  EXPECT_EQ(items[4].contents.size(), 70003u);
  EXPECT_EQ(items[4].contents.substr(69998), "xxend");
}

TEST(Tar, JoinsTheUstarPrefix) {
  Bytes tar;
  add_file(tar, "0_9.txt", "text", Magic::Ustar, "aclImdb/train/pos");
  end_archive(tar);
  const auto items = read_tar(tar);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].name, "aclImdb/train/pos/0_9.txt");
}

TEST(Tar, ReadsGnuLongNamesAndLinks) {
  const std::string long_name = "aclImdb/" + std::string(150, 'd') + "/train/neg/12_3.txt";
  const std::string long_link = "target/" + std::string(120, 't');
  Bytes tar;
  add_gnu_long_name(tar, long_name, "long one");
  append(tar, header("././@LongLink", long_link.size() + 1, 'K', Magic::Gnu));
  append_data(tar, long_link + '\0');
  append(tar, header("link", 0, '2', Magic::Gnu, "", "cut"));
  add_file(tar, "after.txt", "plain", Magic::Gnu);
  end_archive(tar);
  const auto items = read_tar(tar);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].name, long_name);
  EXPECT_EQ(items[0].contents, "long one");
  EXPECT_EQ(items[1].type, TarEntryType::Symlink);
  EXPECT_EQ(items[1].link, long_link);
  EXPECT_EQ(items[2].name, "after.txt");  // the long name applied to one entry only
  EXPECT_EQ(items[2].contents, "plain");
}

TEST(Tar, ReadsPaxPathsAndSizesAndSkipsGlobalHeaders) {
  const std::string long_name = "aclImdb/test/pos/" + std::string(200, 'p') + ".txt";
  Bytes tar;
  const std::string global = pax_record("comment", "made by hand");
  append(tar, header("pax_global_header", global.size(), 'g'));
  append_data(tar, global);
  add_pax_file(tar, long_name, "pax contents");
  // A pax size overrides the header's size field.
  const std::string sized = pax_record("size", "6");
  append(tar, header("PaxHeaders/sized", sized.size(), 'x'));
  append_data(tar, sized);
  append(tar, header("sized.txt", 999, '0'));
  append_data(tar, "sixsix");
  add_file(tar, "last.txt", "z");
  end_archive(tar);
  const auto items = read_tar(tar);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].name, long_name);
  EXPECT_EQ(items[0].contents, "pax contents");
  EXPECT_EQ(items[1].contents, "sixsix");
  EXPECT_EQ(items[2].name, "last.txt");
  EXPECT_EQ(items[2].contents, "z");
}

TEST(Tar, SkipsUnreadContents) {
  MemorySource source(sample_archive());
  TarReader reader(source);
  std::vector<std::string> names;
  std::string text;
  while (auto entry = reader.next()) {
    names.push_back(entry->name);
    if (entry->name == "aclImdb/block.txt") reader.skip_contents();
  }
  EXPECT_EQ(names.size(), 5u);
  EXPECT_EQ(names.back(), "aclImdb/big.txt");
}

TEST(Tar, HonoursTheCallersSizeLimit) {
  const Bytes tar = sample_archive();
  MemorySource strict(tar, "strict.tar");
  const std::string message = error_of([&] { read_all(strict, 1000); });
  EXPECT_NE(message.find("over the limit"), std::string::npos) << message;
  MemorySource loose(tar, "loose.tar");
  EXPECT_EQ(read_all(loose, 100000).size(), 5u);
}

TEST(Gzip, ReadsCompressedArchives) {
  const auto items = read_tar_gz(gzip(sample_archive()));
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[4].contents.size(), 70003u);
}

TEST(Gzip, ReadsConcatenatedMembersAndTrailingZeros) {
  const Bytes tar = sample_archive();
  const size_t half = 1536;  // split inside the archive, on no particular boundary
  Bytes gz = gzip(Bytes(tar.begin(), tar.begin() + half));
  const Bytes second = gzip(Bytes(tar.begin() + half, tar.end()));
  gz.insert(gz.end(), second.begin(), second.end());
  gz.resize(gz.size() + 100, 0);
  const auto items = read_tar_gz(gz);
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[1].contents, "A fine film.");
}

TEST(Gzip, OpensFilesByContentNotName) {
  const std::string dir = "/tmp/rnnb_test_gz_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const Bytes tar = sample_archive();
  const Bytes gz = gzip(tar);
  auto write = [](const std::string& path, const Bytes& bytes) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
  };
  write(dir + "/plain.tar", tar);
  write(dir + "/packed.tar.gz", gz);
  auto plain = open_byte_source(dir + "/plain.tar");
  auto packed = open_byte_source(dir + "/packed.tar.gz");
  const auto a = read_all(*plain);
  const auto b = read_all(*packed);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].contents, b[i].contents);
  EXPECT_THROW(open_byte_source(dir + "/missing.tar"), Error);
  std::filesystem::remove_all(dir);
}

TEST(Gzip, TruncatedDataIsAnError) {
  const Bytes gz = gzip(sample_archive());
  for (size_t keep : {size_t{0}, size_t{5}, gz.size() / 2, gz.size() - 4}) {
    const Bytes cut(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(keep));
    const std::string message = error_of([&] { read_tar_gz(cut); });
    EXPECT_NE(message.find("truncated"), std::string::npos) << "kept " << keep << ": " << message;
    EXPECT_NE(message.find("test.tar.gz"), std::string::npos) << message;
  }
}

// Reads a whole gzip stream, ignoring what it holds.
void drain(const Bytes& gz) {
  GzipSource source(std::make_unique<MemorySource>(gz, "test.tar.gz"));
  char buffer[4096];
  while (source.read(buffer, sizeof buffer) > 0) {
  }
}

TEST(Gzip, CorruptDataIsAnError) {
  const Bytes gz = gzip(sample_archive());
  // Header magic and flags: always rejected as corrupt.
  for (size_t at : {size_t{0}, size_t{3}}) {
    Bytes bad = gz;
    bad[at] ^= 0x55;
    const std::string message = error_of([&] { drain(bad); });
    EXPECT_NE(message.find("corrupt gzip data in test.tar.gz"), std::string::npos)
        << "byte " << at << ": " << message;
  }
  // Compressed data and the CRC trailer: caught by the decoder or by the CRC check.
  for (size_t at : {gz.size() / 2, gz.size() - 6}) {
    Bytes bad = gz;
    bad[at] ^= 0x55;
    const std::string message = error_of([&] { drain(bad); });
    EXPECT_NE(message.find("gzip data in test.tar.gz"), std::string::npos)
        << "byte " << at << ": " << message;
  }
  Bytes trailing = gz;
  trailing.push_back('!');
  EXPECT_NE(error_of([&] { drain(trailing); }).find("after the compressed stream"),
            std::string::npos);
}

TEST(Tar, TruncatedArchiveIsAnError) {
  const Bytes tar = sample_archive();
  // Inside a header, inside contents, at a block boundary without the end marker.
  for (size_t keep : {size_t{100}, size_t{512 + 512 + 5}, size_t{512 * 6}}) {
    const Bytes cut(tar.begin(), tar.begin() + static_cast<std::ptrdiff_t>(keep));
    const std::string message = error_of([&] { read_tar(cut); });
    EXPECT_NE(message.find("truncated tar archive test.tar"), std::string::npos)
        << "kept " << keep << ": " << message;
  }
  // Also when compressed: a whole gzip stream holding a cut tar.
  const Bytes cut(tar.begin(), tar.begin() + 2000);
  EXPECT_NE(error_of([&] { read_tar_gz(gzip(cut)); }).find("truncated tar archive"),
            std::string::npos);
}

TEST(Tar, BadChecksumIsAnError) {
  Bytes tar = sample_archive();
  tar[512 + 10] ^= 1;  // the name of the second header
  EXPECT_NE(error_of([&] { read_tar(tar); }).find("bad header checksum at byte 512"),
            std::string::npos);
  Bytes text(2048, 'a');
  EXPECT_NE(error_of([&] { read_tar(text); }).find("not a tar archive"), std::string::npos);
}

TEST(Tar, AbsurdSizesAreErrors) {
  Bytes huge;
  append(huge, header("huge.txt", 077777777777ULL, '0'));
  append_data(huge, "tiny");
  end_archive(huge);
  EXPECT_NE(error_of([&] { read_tar(huge); }).find("over the limit"), std::string::npos);

  Bytes garbled = header("bad.txt", 0, '0');
  std::memcpy(&garbled[124], "12x45678901", 11);
  set_checksum(garbled.data());
  end_archive(garbled);
  EXPECT_NE(error_of([&] { read_tar(garbled); }).find("bad size field"), std::string::npos);

  Bytes negative = header("neg.txt", 0, '0');
  std::memset(&negative[124], 0xff, 12);  // GNU base-256 with the sign bit set
  set_checksum(negative.data());
  end_archive(negative);
  EXPECT_NE(error_of([&] { read_tar(negative); }).find("bad size field"), std::string::npos);

  Bytes long_name;
  append(long_name, header("././@LongLink", uint64_t{1} << 30, 'L', Magic::Gnu));
  end_archive(long_name);
  EXPECT_NE(error_of([&] { read_tar(long_name); }).find("GNU long name"), std::string::npos);
}

TEST(Tar, MalformedPaxHeaderIsAnError) {
  for (const std::string records : {"5 path=x\n", "abc path=x\n", "0 path=x\n", "99 path=x\n"}) {
    Bytes tar;
    append(tar, header("PaxHeaders/bad", records.size(), 'x'));
    append_data(tar, records);
    add_file(tar, "file.txt", "data");
    end_archive(tar);
    EXPECT_NE(error_of([&] { read_tar(tar); }).find("malformed pax header"), std::string::npos)
        << records;
  }
}

// Damaged archives either still read or fail with an Error: no crash, no other exception.
TEST(Tar, RandomDamageFailsCleanly) {
  Bytes tar;
  add_gnu_long_name(tar, "aclImdb/" + std::string(120, 'g') + ".txt", "gnu");
  add_pax_file(tar, "aclImdb/" + std::string(130, 'p') + ".txt", "pax");
  add_file(tar, "aclImdb/plain.txt", std::string(1500, 'q'));
  end_archive(tar);
  const Bytes gz = gzip(tar);
  Rng rng(42);
  int errors = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const bool compressed = trial % 2 == 1;
    Bytes damaged = compressed ? gz : tar;
    if (trial % 5 == 0) {
      damaged.resize(rng.below(damaged.size()));
    } else {
      for (int flips = 1 + static_cast<int>(rng.below(3)); flips > 0; --flips)
        damaged[rng.below(damaged.size())] ^= static_cast<uint8_t>(1 + rng.below(255));
    }
    try {
      if (compressed) read_tar_gz(damaged);
      else read_tar(damaged);
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 200);  // most damage is detected (contents bytes are not checked)
}

}  // namespace
}  // namespace rnnb
