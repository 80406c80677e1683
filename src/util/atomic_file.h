// Crash-safe file output: everything is written to "<path>.tmp.<pid>", flushed with fsync,
// then renamed over <path>, so a reader never sees a half-written checkpoint, cache or
// results file, whatever moment the process dies at. A temp file left by a writer that was
// killed is ignored by every reader and removed by the next successful write of that path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rnnb {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // removes the temp file unless commit() succeeded
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // fsync, close, rename over the target, fsync the directory.
  void commit();

 private:
  std::string path_, temp_path_;
  int fd_ = -1;
};

// Whole-file helpers.
void write_file_atomic(const std::string& path, std::string_view contents);
std::vector<uint8_t> read_file_bytes(const std::string& path);  // throws Error when unreadable
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
void make_directories(const std::string& path);

}  // namespace rnnb
