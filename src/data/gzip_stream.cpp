// Byte sources: plain files, in-memory buffers and streaming gzip decompression (zlib).
#include "data/gzip_stream.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace rnnb {
namespace {

constexpr size_t kChunk = size_t{1} << 18;  // 256 KiB

}  // namespace

uint64_t ByteSource::skip(uint64_t bytes) {
  char buffer[16384];
  uint64_t skipped = 0;
  while (skipped < bytes) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof buffer, bytes - skipped));
    const size_t got = read(buffer, want);
    skipped += got;
    if (got < want) break;
  }
  return skipped;
}

// ---- FileSource ------------------------------------------------------------------------

FileSource::FileSource(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail("cannot open " + path_ + ": " + std::strerror(errno));
}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

size_t FileSource::read(void* data, size_t bytes) {
  char* out = static_cast<char*>(data);
  size_t total = 0;
  while (total < bytes) {
    const ssize_t n = ::read(fd_, out + total, bytes - total);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read " + path_ + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    total += static_cast<size_t>(n);
  }
  return total;
}

// ---- MemorySource ----------------------------------------------------------------------

size_t MemorySource::read(void* data, size_t bytes) {
  const size_t n = std::min(bytes, bytes_.size() - position_);
  if (n > 0) std::memcpy(data, bytes_.data() + position_, n);
  position_ += n;
  return n;
}

// ---- GzipSource ------------------------------------------------------------------------

struct GzipSource::ZState {
  z_stream stream{};
};

GzipSource::GzipSource(std::unique_ptr<ByteSource> input)
    : input_(std::move(input)), in_buffer_(kChunk), out_buffer_(kChunk), z_(new ZState) {
  RNNB_ASSERT(input_ != nullptr);
  // 16 + MAX_WBITS: expect a gzip header and check the CRC-32 and length in its trailer.
  if (inflateInit2(&z_->stream, 16 + MAX_WBITS) != Z_OK)
    fail("cannot start the gzip decoder for " + input_->name());
}

GzipSource::~GzipSource() { inflateEnd(&z_->stream); }

bool GzipSource::refill_input() {
  const size_t got = input_->read(in_buffer_.data(), in_buffer_.size());
  z_->stream.next_in = in_buffer_.data();
  z_->stream.avail_in = static_cast<uInt>(got);
  return got > 0;
}

void GzipSource::check_trailing_bytes() {
  // Some writers pad the file with zero bytes after the last member; accept only that.
  z_stream& s = z_->stream;
  do {
    for (uInt i = 0; i < s.avail_in; ++i)
      if (s.next_in[i] != 0)
        fail("corrupt gzip data in " + name() + ": unexpected bytes after the compressed stream");
  } while (refill_input());
}

size_t GzipSource::inflate_into(uint8_t* out, size_t capacity) {
  z_stream& s = z_->stream;
  size_t produced = 0;
  while (produced < capacity && !finished_) {
    if (member_done_) {
      // One member ended: another may follow, or the data ends here.
      if (s.avail_in == 0 && !refill_input()) {
        finished_ = true;
        break;
      }
      if (s.next_in[0] != 0x1f) {
        check_trailing_bytes();
        finished_ = true;
        break;
      }
      inflateReset(&s);
      member_done_ = false;
    }
    if (s.avail_in == 0 && !refill_input())
      fail("truncated gzip data in " + name() + ": the file ends inside the compressed stream");
    s.next_out = out + produced;
    s.avail_out = static_cast<uInt>(std::min<size_t>(capacity - produced, 1u << 30));
    const uInt before = s.avail_out;
    const int rc = inflate(&s, Z_NO_FLUSH);
    produced += before - s.avail_out;
    switch (rc) {
      case Z_OK:
      case Z_BUF_ERROR:  // needs more input; the loop refills it
        break;
      case Z_STREAM_END:
        member_done_ = true;
        break;
      case Z_MEM_ERROR:
        fail("out of memory while decompressing " + name());
      default:
        fail("corrupt gzip data in " + name() + ": " +
             (s.msg != nullptr ? s.msg : "invalid compressed data"));
    }
  }
  return produced;
}

size_t GzipSource::read(void* data, size_t bytes) {
  uint8_t* out = static_cast<uint8_t*>(data);
  size_t total = 0;
  while (total < bytes) {
    if (out_begin_ < out_end_) {
      const size_t n = std::min(bytes - total, out_end_ - out_begin_);
      std::memcpy(out + total, out_buffer_.data() + out_begin_, n);
      out_begin_ += n;
      total += n;
      continue;
    }
    if (finished_) break;
    if (bytes - total >= out_buffer_.size()) {
      // Large reads go straight into the caller's memory.
      const size_t n = inflate_into(out + total, bytes - total);
      total += n;
      if (n == 0) break;
    } else {
      out_begin_ = 0;
      out_end_ = inflate_into(out_buffer_.data(), out_buffer_.size());
      if (out_end_ == 0) break;
    }
  }
  return total;
}

bool looks_like_gzip(const uint8_t* data, size_t bytes) {
  return bytes >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

std::unique_ptr<ByteSource> open_byte_source(const std::string& path) {
  uint8_t magic[2] = {0, 0};
  size_t got;
  {
    FileSource probe(path);
    got = probe.read(magic, sizeof magic);
  }
  auto file = std::make_unique<FileSource>(path);
  if (looks_like_gzip(magic, got)) return std::make_unique<GzipSource>(std::move(file));
  return file;
}

}  // namespace rnnb
