// libFuzzer target: the streaming gzip + tar reader on arbitrary bytes. The first byte picks
// gzip-wrapped or plain tar. Any input may be rejected with rnnb::Error; nothing may crash,
// overread, hang or allocate without bound (entries are capped at 1 MiB, output at 64 MiB).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/gzip_stream.h"
#include "data/tar_reader.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool gzipped = data[0] & 1;
  std::vector<uint8_t> bytes(data + 1, data + size);
  try {
    std::unique_ptr<rnnb::ByteSource> source = std::make_unique<rnnb::MemorySource>(std::move(bytes), "fuzz");
    if (gzipped) source = std::make_unique<rnnb::GzipSource>(std::move(source));
    rnnb::TarReader reader(*source, uint64_t{1} << 20);
    std::string contents;
    uint64_t total = 0;
    int entry_index = 0;
    while (auto entry = reader.next()) {
      // Alternate reading and skipping so both paths run.
      if (entry->type == rnnb::TarEntryType::File && (entry_index++ % 2 == 0)) {
        reader.read_contents(contents);
        if (contents.size() > entry->size) __builtin_trap();
        total += contents.size();
      }
      if (total > (uint64_t{64} << 20)) break;
    }
  } catch (const rnnb::Error&) {
  }
  return 0;
}
