// Streaming tar reader: ustar, GNU and pax headers, checked checksums and sizes.
#include "data/tar_reader.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"

namespace rnnb {
namespace {

constexpr size_t kBlock = 512;

// Header field offsets and widths (POSIX ustar; GNU shares the first 345 bytes).
constexpr size_t kNameAt = 0, kNameLen = 100;
constexpr size_t kSizeAt = 124, kSizeLen = 12;
constexpr size_t kChecksumAt = 148, kChecksumLen = 8;
constexpr size_t kTypeAt = 156;
constexpr size_t kLinkAt = 157, kLinkLen = 100;
constexpr size_t kMagicAt = 257;
constexpr size_t kPrefixAt = 345, kPrefixLen = 155;

std::string field_text(const uint8_t* block, size_t at, size_t len) {
  const char* p = reinterpret_cast<const char*>(block + at);
  return std::string(p, strnlen(p, len));
}

// Octal (NUL/space terminated) or GNU base-256 (high bit of the first byte set).
// Returns false for malformed or negative values.
bool parse_number(const uint8_t* field, size_t len, uint64_t& value) {
  value = 0;
  if (field[0] & 0x80) {
    if (field[0] != 0x80) return false;  // 0xff marks a negative number
    for (size_t i = 1; i < len; ++i) {
      if (value >> 56) return false;
      value = (value << 8) | field[i];
    }
    return true;
  }
  size_t i = 0;
  while (i < len && field[i] == ' ') ++i;
  bool any_digit = false;
  for (; i < len && field[i] != 0 && field[i] != ' '; ++i) {
    if (field[i] < '0' || field[i] > '7') return false;
    if (value >> 61) return false;
    value = value * 8 + static_cast<uint64_t>(field[i] - '0');
    any_digit = true;
  }
  for (; i < len; ++i)  // only terminators may follow the digits
    if (field[i] != 0 && field[i] != ' ') return false;
  (void)any_digit;  // an empty field means 0
  return true;
}

bool is_zero_block(const uint8_t* block) {
  for (size_t i = 0; i < kBlock; ++i)
    if (block[i] != 0) return false;
  return true;
}

bool checksum_matches(const uint8_t* block) {
  uint64_t stored = 0;
  if (!parse_number(block + kChecksumAt, kChecksumLen, stored)) return false;
  // The sum is taken with the checksum field read as spaces; historic writers summed
  // signed chars, so both sums are accepted.
  uint64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const bool in_field = i >= kChecksumAt && i < kChecksumAt + kChecksumLen;
    const uint8_t byte = in_field ? uint8_t{' '} : block[i];
    unsigned_sum += byte;
    signed_sum += static_cast<int8_t>(byte);
  }
  return stored == unsigned_sum || static_cast<int64_t>(stored) == signed_sum;
}

TarEntryType entry_type(char typeflag, const std::string& name) {
  switch (typeflag) {
    case '0':
    case '7':  // contiguous file
      return TarEntryType::File;
    case '\0':  // pre-POSIX: a trailing slash marks a directory
      return !name.empty() && name.back() == '/' ? TarEntryType::Directory : TarEntryType::File;
    case '1':
      return TarEntryType::Hardlink;
    case '2':
      return TarEntryType::Symlink;
    case '5':
      return TarEntryType::Directory;
    default:
      return TarEntryType::Other;
  }
}

// Types whose headers are never followed by data blocks, whatever their size field says.
bool has_no_data(char typeflag) {
  return typeflag == '1' || typeflag == '2' || typeflag == '3' || typeflag == '4' ||
         typeflag == '5' || typeflag == '6';
}

std::string until_nul(const std::string& text) { return text.substr(0, strnlen(text.data(), text.size())); }

}  // namespace

TarReader::TarReader(ByteSource& source, uint64_t max_entry_size)
    : source_(source), max_entry_size_(max_entry_size) {}

void TarReader::read_exact(void* data, size_t bytes, const char* what) {
  const size_t got = source_.read(data, bytes);
  offset_ += got;
  if (got < bytes)
    fail("truncated tar archive " + source_.name() + ": it ends inside " + what +
         " at byte " + std::to_string(offset_));
}

void TarReader::skip_exact(uint64_t bytes, const char* what) {
  const uint64_t got = source_.skip(bytes);
  offset_ += got;
  if (got < bytes)
    fail("truncated tar archive " + source_.name() + ": it ends inside " + what +
         " at byte " + std::to_string(offset_));
}

bool TarReader::read_header(uint8_t block[kBlock]) {
  const uint64_t header_at = offset_;
  const size_t got = source_.read(block, kBlock);
  offset_ += got;
  if (got == 0)
    fail("truncated tar archive " + source_.name() + ": it ends at byte " +
         std::to_string(offset_) + " without the end-of-archive marker");
  if (got < kBlock)
    fail("truncated tar archive " + source_.name() + ": it ends inside a header at byte " +
         std::to_string(offset_));
  if (is_zero_block(block)) return false;
  if (!checksum_matches(block)) {
    if (header_at == 0) fail(source_.name() + " is not a tar archive (bad header checksum)");
    fail("corrupt tar archive " + source_.name() + ": bad header checksum at byte " +
         std::to_string(header_at));
  }
  return true;
}

std::string TarReader::read_metadata(uint64_t size, const char* what) {
  if (size > kMaxMetadataSize)
    fail("corrupt tar archive " + source_.name() + ": " + what + " of " + std::to_string(size) +
         " bytes at byte " + std::to_string(offset_) + " is over the limit");
  std::string data(static_cast<size_t>(size), '\0');
  read_exact(data.data(), data.size(), what);
  skip_exact((kBlock - size % kBlock) % kBlock, what);
  return data;
}

void TarReader::finish_entry() {
  skip_exact(remaining_ + padding_, current_name_.empty() ? "an entry" : current_name_.c_str());
  remaining_ = padding_ = 0;
}

void TarReader::read_contents(std::string& out) {
  out.resize(static_cast<size_t>(remaining_));
  read_exact(out.data(), out.size(), current_name_.c_str());
  remaining_ = 0;
}

void TarReader::skip_contents() { finish_entry(); }

std::optional<TarEntry> TarReader::next() {
  if (ended_) return std::nullopt;
  finish_entry();

  std::optional<std::string> long_name, long_link, pax_path, pax_link;
  std::optional<uint64_t> pax_size;
  uint8_t block[kBlock];
  for (;;) {
    const uint64_t header_at = offset_;
    if (!read_header(block)) {
      ended_ = true;
      if (long_name || long_link || pax_path || pax_link || pax_size)
        fail("corrupt tar archive " + source_.name() +
             ": an extended header is not followed by an entry");
      return std::nullopt;
    }
    const char typeflag = static_cast<char>(block[kTypeAt]);
    uint64_t size = 0;
    if (!parse_number(block + kSizeAt, kSizeLen, size))
      fail("corrupt tar archive " + source_.name() + ": bad size field in the header at byte " +
           std::to_string(header_at));

    if (typeflag == 'L') {
      long_name = until_nul(read_metadata(size, "a GNU long name"));
      continue;
    }
    if (typeflag == 'K') {
      long_link = until_nul(read_metadata(size, "a GNU long link name"));
      continue;
    }
    if (typeflag == 'g') {
      read_metadata(size, "a pax global header");
      continue;
    }
    if (typeflag == 'x' || typeflag == 'X') {
      // Records: "<length> <key>=<value>\n", the length counting the whole record.
      const std::string data = read_metadata(size, "a pax header");
      size_t pos = 0;
      while (pos < data.size()) {
        size_t digits_end = pos;
        uint64_t length = 0;
        while (digits_end < data.size() && data[digits_end] >= '0' && data[digits_end] <= '9' &&
               length < data.size())
          length = length * 10 + static_cast<uint64_t>(data[digits_end++] - '0');
        if (digits_end == pos || digits_end >= data.size() || data[digits_end] != ' ' ||
            length <= digits_end + 1 - pos || length > data.size() - pos ||
            data[pos + length - 1] != '\n')
          fail("corrupt tar archive " + source_.name() + ": malformed pax header at byte " +
               std::to_string(header_at));
        const size_t record_end = pos + length - 1;  // the '\n'
        const size_t equals = data.find('=', digits_end + 1);
        if (equals == std::string::npos || equals >= record_end)
          fail("corrupt tar archive " + source_.name() + ": malformed pax header at byte " +
               std::to_string(header_at));
        const std::string key = data.substr(digits_end + 1, equals - digits_end - 1);
        const std::string value = data.substr(equals + 1, record_end - equals - 1);
        if (key == "path") {
          pax_path = value;
        } else if (key == "linkpath") {
          pax_link = value;
        } else if (key == "size") {
          uint64_t parsed = 0;
          bool ok = !value.empty() && value.size() <= 19;
          for (char c : value) {
            if (c < '0' || c > '9') ok = false;
            else parsed = parsed * 10 + static_cast<uint64_t>(c - '0');
          }
          if (!ok)
            fail("corrupt tar archive " + source_.name() + ": bad pax size '" + value +
                 "' at byte " + std::to_string(header_at));
          pax_size = parsed;
        }
        pos += length;
      }
      continue;
    }

    TarEntry entry;
    entry.typeflag = typeflag;
    if (pax_path) {
      entry.name = *pax_path;
    } else if (long_name) {
      entry.name = *long_name;
    } else {
      entry.name = field_text(block, kNameAt, kNameLen);
      // POSIX ustar splits long names into prefix + name; GNU uses that space otherwise.
      if (std::memcmp(block + kMagicAt, "ustar\0", 6) == 0) {
        std::string prefix = field_text(block, kPrefixAt, kPrefixLen);
        if (!prefix.empty()) entry.name = prefix + "/" + entry.name;
      }
    }
    entry.link_name = pax_link ? *pax_link : long_link ? *long_link : field_text(block, kLinkAt, kLinkLen);
    entry.type = entry_type(typeflag, entry.name);
    if (pax_size) size = *pax_size;
    entry.size = has_no_data(typeflag) ? 0 : size;
    if (entry.size > max_entry_size_)
      fail("corrupt tar archive " + source_.name() + ": entry '" + entry.name + "' claims " +
           std::to_string(entry.size) + " bytes, over the limit of " +
           std::to_string(max_entry_size_));
    remaining_ = entry.size;
    padding_ = (kBlock - entry.size % kBlock) % kBlock;
    current_name_ = "the contents of " + entry.name;
    return entry;
  }
}

}  // namespace rnnb
