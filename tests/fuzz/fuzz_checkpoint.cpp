// libFuzzer target: the checkpoint loader on arbitrary files. When the first byte is odd the
// rest gets the checkpoint magic, the current version and a correct CRC32, so the fuzzer reaches the
// parser behind the checksum. Any input may be rejected with rnnb::Error; nothing may
// crash, overread or allocate more than the file's own size suggests.
#include <unistd.h>
#include <zlib.h>

#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "train/checkpoint.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<uint8_t> file;
  if (data[0] & 1) {
    const char header[8] = {'R', 'N', 'N', 'B', 'C', 'K', 'P', 'T'};
    const uint32_t version = rnnb::kCheckpointVersion;
    file.insert(file.end(), header, header + 8);
    file.insert(file.end(), reinterpret_cast<const uint8_t*>(&version), reinterpret_cast<const uint8_t*>(&version) + 4);
    file.insert(file.end(), data + 1, data + size);
    const uint32_t crc = static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), data + 1, static_cast<uInt>(size - 1)));
    file.insert(file.end(), reinterpret_cast<const uint8_t*>(&crc), reinterpret_cast<const uint8_t*>(&crc) + 4);
  } else {
    file.assign(data + 1, data + size);
  }
  static const std::string path = "/tmp/rnnb_fuzz_checkpoint." + std::to_string(::getpid());
  // A plain write: the harness's scratch file needs no crash safety, and fsync is slow.
  if (std::FILE* out = std::fopen(path.c_str(), "wb")) {
    std::fwrite(file.data(), 1, file.size(), out);
    std::fclose(out);
  }
  try {
    const rnnb::Checkpoint c = rnnb::load_checkpoint(path);
    if (c.state.params.size() != c.state.adam_m.size() || c.vocab.size() != static_cast<size_t>(c.model.vocab_size))
      __builtin_trap();
  } catch (const rnnb::Error&) {
  }
  return 0;
}
