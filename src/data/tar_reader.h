// A streaming tar reader over any ByteSource: one pass, front to back, nothing extracted.
// Understands ustar (name prefix), GNU ('L' long names, 'K' long link names, base-256
// sizes) and pax ('x' extended headers: path, linkpath, size; 'g' global headers are
// skipped). Every header's checksum is verified, every size is checked against a limit
// before anything is allocated, and a truncated archive is reported as such.
//
//   TarReader reader(source);
//   while (auto entry = reader.next()) {
//     if (entry->type == TarEntryType::File) reader.read_contents(text);  // else skipped
//   }
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "data/gzip_stream.h"

namespace rnnb {

enum class TarEntryType { File, Directory, Symlink, Hardlink, Other };

struct TarEntry {
  std::string name;       // full path as stored (long-name and pax forms resolved)
  std::string link_name;  // target of a link entry
  uint64_t size = 0;      // bytes of contents (0 for directories and links)
  TarEntryType type = TarEntryType::Other;
  char typeflag = '0';    // the raw header type
};

class TarReader {
 public:
  static constexpr uint64_t kDefaultMaxEntrySize = uint64_t{64} << 20;  // 64 MiB
  static constexpr uint64_t kMaxMetadataSize = uint64_t{1} << 20;      // long names, pax

  // Entries bigger than `max_entry_size` are rejected as corrupt (a guard against damaged
  // size fields). The source must outlive the reader.
  explicit TarReader(ByteSource& source, uint64_t max_entry_size = kDefaultMaxEntrySize);

  // The next entry, or nullopt at the end of the archive. Unread contents of the previous
  // entry are skipped. Throws Error on a bad checksum, a bad field, an over-limit size or
  // a truncated archive.
  std::optional<TarEntry> next();

  // Reads all of the current entry's contents into `out` (at most the size checked in
  // next()). Calling it twice for one entry yields an empty string the second time.
  void read_contents(std::string& out);
  void skip_contents();

 private:
  bool read_header(uint8_t block[512]);  // false at the end-of-archive marker
  void read_exact(void* data, size_t bytes, const char* what);
  void skip_exact(uint64_t bytes, const char* what);
  std::string read_metadata(uint64_t size, const char* what);
  void finish_entry();  // skips what is left of the current entry, padding included

  ByteSource& source_;
  uint64_t max_entry_size_;
  uint64_t remaining_ = 0;  // unread content bytes of the current entry
  uint64_t padding_ = 0;    // bytes after the contents up to the next 512-byte boundary
  uint64_t offset_ = 0;     // archive bytes consumed, for error messages
  std::string current_name_;
  bool ended_ = false;
};

}  // namespace rnnb
