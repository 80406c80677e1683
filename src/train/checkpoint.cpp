// Checkpoint file format, version 3 (little-endian; version 1 lacks the epoch's stats,
// versions 1-2 the pooling, embedding dropout, hidden head layer, current learning rate and
// plateau counter, which then take their defaults):
//   "RNNBCKPT" | u32 version | payload | u32 crc32(payload)
// payload: model config, optimizer config, data and run settings, vocabulary, parameters,
// Adam state, dropout RNG, progress (with the current epoch's stats so far). Every size is checked against the model's layout.
#include "train/checkpoint.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "util/atomic_file.h"
#include "util/binary_io.h"
#include "util/error.h"

namespace rnnb {
namespace {

constexpr char kMagic[8] = {'R', 'N', 'N', 'B', 'C', 'K', 'P', 'T'};
constexpr uint32_t kVersion = 3;
constexpr uint32_t kOldestReadable = 1;
constexpr int kMaxDimension = 1 << 20;

uint32_t crc_of(const uint8_t* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, data, chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

void put_model(BinaryWriter& w, const ModelConfig& m) {
  w.put<uint8_t>(static_cast<uint8_t>(m.cell));
  w.put<int32_t>(m.vocab_size);
  w.put<int32_t>(m.embed);
  w.put<int32_t>(m.hidden);
  w.put<int32_t>(m.layers);
  w.put<uint8_t>(m.bidirectional);
  w.put<float>(m.rnn_dropout);
  w.put<float>(m.head_dropout);
  w.put<int32_t>(m.classes);
  w.put<uint8_t>(static_cast<uint8_t>(m.pool));
  w.put<float>(m.embed_dropout);
  w.put<int32_t>(m.head_hidden);
}

ModelConfig get_model(BinaryReader& r, const std::string& path, uint32_t version) {
  ModelConfig m;
  const uint8_t cell = r.get<uint8_t>();
  if (cell > static_cast<uint8_t>(Cell::Lstm)) fail(path + " is corrupt: unknown cell type");
  m.cell = static_cast<Cell>(cell);
  m.vocab_size = r.get<int32_t>();
  m.embed = r.get<int32_t>();
  m.hidden = r.get<int32_t>();
  m.layers = r.get<int32_t>();
  m.bidirectional = r.get<uint8_t>() != 0;
  m.rnn_dropout = r.get<float>();
  m.head_dropout = r.get<float>();
  m.classes = r.get<int32_t>();
  if (version >= 3) {
    const uint8_t pool = r.get<uint8_t>();
    if (pool > static_cast<uint8_t>(Pool::MeanMax)) fail(path + " is corrupt: unknown pooling");
    m.pool = static_cast<Pool>(pool);
    m.embed_dropout = r.get<float>();
    m.head_hidden = r.get<int32_t>();
    if (!(m.embed_dropout >= 0.0f && m.embed_dropout < 1.0f) || m.head_hidden < 0 || m.head_hidden > kMaxDimension)
      fail(path + " is corrupt: embedding dropout or hidden head size out of range");
  }
  for (int v : {m.vocab_size, m.embed, m.hidden, m.layers, m.classes})
    if (v < 1 || v > (1 << 24)) fail(path + " is corrupt: model dimension " + std::to_string(v) + " out of range");
  if (m.embed > kMaxDimension || m.hidden > kMaxDimension || m.layers > 64 || m.classes > 1024)
    fail(path + " is corrupt: model dimensions out of range");
  return m;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  BinaryWriter w;
  put_model(w, c.model);
  for (float f : {c.optim.lr, c.optim.beta1, c.optim.beta2, c.optim.eps, c.optim.weight_decay, c.optim.clip_norm})
    w.put<float>(f);
  w.put_string(c.data_settings);
  w.put_string(c.run_settings);
  w.put<uint64_t>(c.vocab.size());
  for (const std::string& word : c.vocab) w.put_string(word);
  w.put<uint64_t>(c.vocab_fingerprint);
  w.put_vector(c.state.params);
  w.put_vector(c.state.adam_m);
  w.put_vector(c.state.adam_v);
  w.put<int64_t>(c.state.adam_step);
  for (uint64_t s : c.state.dropout_rng) w.put<uint64_t>(s);
  w.put<int32_t>(c.progress.epochs_done);
  w.put<int32_t>(c.progress.next_batch);
  w.put<int64_t>(c.progress.global_step);
  w.put<double>(c.progress.best_val_loss);
  w.put<int32_t>(c.progress.best_epoch);
  for (uint64_t s : c.progress.epoch_rng) w.put<uint64_t>(s);
  const BatchStats& e = c.progress.epoch_stats;
  w.put<double>(e.loss_sum);
  for (int64_t v : {e.correct, e.count, e.real_tokens, e.computed_tokens, e.skipped}) w.put<int64_t>(v);
  w.put<double>(c.progress.epoch_seconds);
  w.put<float>(c.progress.lr);
  w.put<int32_t>(c.progress.plateau_wait);

  const std::vector<uint8_t>& payload = w.bytes();
  AtomicFile file(path);
  file.write(kMagic, sizeof kMagic);
  file.write(&kVersion, sizeof kVersion);
  file.write(payload.data(), payload.size());
  const uint32_t crc = crc_of(payload.data(), payload.size());
  file.write(&crc, sizeof crc);
  file.commit();
}

Checkpoint load_checkpoint(const std::string& path) {
  if (!file_exists(path)) fail("checkpoint " + path + " does not exist");
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  if (bytes.size() < sizeof kMagic + 8 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    fail(path + " is not an rnnbench checkpoint");
  uint32_t version = 0;
  std::memcpy(&version, bytes.data() + sizeof kMagic, sizeof version);
  if (version < kOldestReadable || version > kVersion)
    fail(path + " is checkpoint format version " + std::to_string(version) + "; this build reads versions " +
         std::to_string(kOldestReadable) + " to " + std::to_string(kVersion));
  const uint8_t* payload = bytes.data() + sizeof kMagic + sizeof version;
  const size_t payload_size = bytes.size() - sizeof kMagic - sizeof version - sizeof(uint32_t);
  uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, payload + payload_size, sizeof stored_crc);
  if (crc_of(payload, payload_size) != stored_crc) fail(path + " is corrupt (CRC32 mismatch)");

  BinaryReader r(payload, payload_size, path);
  Checkpoint c;
  c.model = get_model(r, path, version);
  for (float* f : {&c.optim.lr, &c.optim.beta1, &c.optim.beta2, &c.optim.eps, &c.optim.weight_decay, &c.optim.clip_norm})
    *f = r.get<float>();
  c.data_settings = r.get_string(1 << 20);
  c.run_settings = r.get_string(1 << 20);
  const uint64_t words = r.get<uint64_t>();
  if (words != static_cast<uint64_t>(c.model.vocab_size) || words > r.remaining() / 8)
    fail(path + " is corrupt: vocabulary of " + std::to_string(words) + " words for a model of " +
         std::to_string(c.model.vocab_size));
  c.vocab.reserve(words);
  for (uint64_t i = 0; i < words; ++i) c.vocab.push_back(r.get_string(1 << 16));
  c.vocab_fingerprint = r.get<uint64_t>();
  const size_t expected = ParamLayout(c.model).total;
  c.state.params = r.get_vector<float>();
  c.state.adam_m = r.get_vector<float>();
  c.state.adam_v = r.get_vector<float>();
  if (c.state.params.size() != expected || c.state.adam_m.size() != expected || c.state.adam_v.size() != expected)
    fail(path + " is corrupt: parameter count does not match its model configuration");
  c.state.adam_step = r.get<int64_t>();
  for (uint64_t& s : c.state.dropout_rng) s = r.get<uint64_t>();
  c.progress.epochs_done = r.get<int32_t>();
  c.progress.next_batch = r.get<int32_t>();
  c.progress.global_step = r.get<int64_t>();
  c.progress.best_val_loss = r.get<double>();
  c.progress.best_epoch = r.get<int32_t>();
  for (uint64_t& s : c.progress.epoch_rng) s = r.get<uint64_t>();
  if (version >= 2) {
    BatchStats& e = c.progress.epoch_stats;
    e.loss_sum = r.get<double>();
    for (int64_t* v : {&e.correct, &e.count, &e.real_tokens, &e.computed_tokens, &e.skipped}) *v = r.get<int64_t>();
    c.progress.epoch_seconds = r.get<double>();
  }
  if (version >= 3) {
    c.progress.lr = r.get<float>();
    c.progress.plateau_wait = r.get<int32_t>();
    if (!(c.progress.lr >= 0.0f) || c.progress.plateau_wait < 0)
      fail(path + " is corrupt: learning rate or plateau counter out of range");
  }
  if (c.progress.epochs_done < 0 || c.progress.next_batch < 0 || c.progress.global_step < 0 || c.state.adam_step < 0)
    fail(path + " is corrupt: negative progress counters");
  if (r.remaining() != 0) fail(path + " is corrupt: unexpected trailing data");
  return c;
}

}  // namespace rnnb
