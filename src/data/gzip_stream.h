// Byte sources read front to back in chunks: a plain file, a gzip stream decompressed on
// the fly (zlib, several concatenated members allowed) and an in-memory buffer. The tar
// reader sits on top, so a .tar.gz is read without ever being extracted to disk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rnnb {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `bytes`; returns fewer only at the end of the data (0 once exhausted).
  // Throws Error on an I/O failure or corrupt/truncated compressed data.
  virtual size_t read(void* data, size_t bytes) = 0;
  // Discards up to `bytes`; returns how many were skipped (fewer only at the end).
  virtual uint64_t skip(uint64_t bytes);
  // What the data is called in error messages (usually the file path).
  virtual const std::string& name() const = 0;
};

class FileSource : public ByteSource {
 public:
  explicit FileSource(std::string path);  // throws Error when it cannot be opened
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  size_t read(void* data, size_t bytes) override;
  const std::string& name() const override { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

class MemorySource : public ByteSource {
 public:
  MemorySource(std::vector<uint8_t> bytes, std::string name = "<memory>")
      : bytes_(std::move(bytes)), name_(std::move(name)) {}
  size_t read(void* data, size_t bytes) override;
  const std::string& name() const override { return name_; }

 private:
  std::vector<uint8_t> bytes_;
  size_t position_ = 0;
  std::string name_;
};

// Decompresses a gzip stream read from `input`. Members may follow one another (as
// `cat a.gz b.gz` makes); zero bytes after the last member are ignored, anything else
// there is reported as corrupt. Errors name the input: "corrupt gzip data in X: ..." or
// "truncated gzip data in X: ...".
class GzipSource : public ByteSource {
 public:
  explicit GzipSource(std::unique_ptr<ByteSource> input);
  ~GzipSource() override;
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  size_t read(void* data, size_t bytes) override;
  const std::string& name() const override { return input_->name(); }

 private:
  // Decompresses into [out, out + capacity); returns the bytes produced, 0 at the end.
  size_t inflate_into(uint8_t* out, size_t capacity);
  bool refill_input();  // false at the end of the input
  void check_trailing_bytes();

  std::unique_ptr<ByteSource> input_;
  std::vector<uint8_t> in_buffer_;
  std::vector<uint8_t> out_buffer_;  // serves small reads without starving zlib
  size_t out_begin_ = 0, out_end_ = 0;
  struct ZState;
  std::unique_ptr<ZState> z_;
  bool member_done_ = false;  // the last inflate() ended a member
  bool finished_ = false;     // no more output will come
};

// True when the bytes start with the gzip magic number (1f 8b).
bool looks_like_gzip(const uint8_t* data, size_t bytes);

// Opens `path` for reading, decompressing it when it starts with the gzip magic number.
std::unique_ptr<ByteSource> open_byte_source(const std::string& path);

}  // namespace rnnb
