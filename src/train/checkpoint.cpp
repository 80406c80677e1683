// Checkpoint file format, version 5 (little-endian):
//   "RNNBCKPT" | u32 version | payload | u32 crc32(payload)
// payload: model config (padding included), optimizer config, data options and tokenizer
// version, training and backend options and device, vocabulary, parameters, Adam state,
// dropout RNG, progress (with the current epoch's stats so far). Every enum is checked
// against its name table and every size against the model's layout. Versions 1-3 held the
// data and run settings as text, version 4 lacked word dropout, the selection figure, the
// learning-rate schedule and chopping; all are refused with a one-line error (retrain).
#include "train/checkpoint.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/atomic_file.h"
#include "util/binary_io.h"
#include "util/error.h"

namespace rnnb {
namespace {

constexpr char kMagic[8] = {'R', 'N', 'N', 'B', 'C', 'K', 'P', 'T'};
constexpr uint32_t kVersion = kCheckpointVersion;
constexpr int kMaxDimension = 1 << 20;
constexpr size_t kMaxPath = 1 << 16;

template <typename E>
void put_enum(BinaryWriter& w, E value) {
  w.put<uint8_t>(static_cast<uint8_t>(value));
}

// An enum stored as one byte, refused unless its table names it.
template <typename E>
E get_enum(BinaryReader& r, const std::string& path, const char* what) {
  const E value = static_cast<E>(r.get<uint8_t>());
  if (!names_of(E{}).contains(value)) fail(path + " is corrupt: unknown " + what);
  return value;
}

void check(bool ok, const std::string& path, const char* what) {
  if (!ok) fail(path + " is corrupt: " + what + " out of range");
}

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
  put_enum(w, m.cell);
  w.put<int32_t>(m.vocab_size);
  w.put<int32_t>(m.embed);
  w.put<int32_t>(m.hidden);
  w.put<int32_t>(m.layers);
  w.put<uint8_t>(m.bidirectional);
  w.put<float>(m.rnn_dropout);
  w.put<float>(m.head_dropout);
  w.put<int32_t>(m.classes);
  put_enum(w, m.pool);
  w.put<float>(m.embed_dropout);
  w.put<float>(m.word_dropout);
  w.put<int32_t>(m.head_hidden);
  put_enum(w, m.padding);
}

ModelConfig get_model(BinaryReader& r, const std::string& path) {
  ModelConfig m;
  m.cell = get_enum<Cell>(r, path, "cell type");
  m.vocab_size = r.get<int32_t>();
  m.embed = r.get<int32_t>();
  m.hidden = r.get<int32_t>();
  m.layers = r.get<int32_t>();
  m.bidirectional = r.get<uint8_t>() != 0;
  m.rnn_dropout = r.get<float>();
  m.head_dropout = r.get<float>();
  m.classes = r.get<int32_t>();
  m.pool = get_enum<Pool>(r, path, "pooling");
  m.embed_dropout = r.get<float>();
  m.word_dropout = r.get<float>();
  m.head_hidden = r.get<int32_t>();
  if (!(m.embed_dropout >= 0.0f && m.embed_dropout < 1.0f) || !(m.word_dropout >= 0.0f && m.word_dropout < 1.0f) ||
      m.head_hidden < 0 || m.head_hidden > kMaxDimension)
    fail(path + " is corrupt: embedding or word dropout, or hidden head size, out of range");
  if (!(m.rnn_dropout >= 0.0f && m.rnn_dropout < 1.0f) || !(m.head_dropout >= 0.0f && m.head_dropout < 1.0f))
    fail(path + " is corrupt: dropout out of range");
  m.padding = get_enum<Padding>(r, path, "padding");
  for (int v : {m.vocab_size, m.embed, m.hidden, m.layers, m.classes})
    if (v < 1 || v > (1 << 24)) fail(path + " is corrupt: model dimension " + std::to_string(v) + " out of range");
  if (m.embed > kMaxDimension || m.hidden > kMaxDimension || m.layers > 64 || m.classes > 1024)
    fail(path + " is corrupt: model dimensions out of range");
  return m;
}

void put_data(BinaryWriter& w, const DataOptions& d, uint32_t tokenizer_version) {
  w.put_string(d.path);
  w.put_string(d.cache_dir);
  w.put<int32_t>(d.min_freq);
  w.put<int32_t>(d.max_vocab);
  w.put<uint64_t>(d.seed);
  w.put<float>(d.val_fraction);
  w.put<int32_t>(d.max_len);
  w.put<uint8_t>(d.truncate_pre);
  w.put<int32_t>(d.train_limit);
  w.put<int32_t>(d.test_limit);
  w.put<uint32_t>(tokenizer_version);
}

DataOptions get_data(BinaryReader& r, const std::string& path, uint32_t& tokenizer_version) {
  DataOptions d;
  d.path = r.get_string(kMaxPath);
  d.cache_dir = r.get_string(kMaxPath);
  d.min_freq = r.get<int32_t>();
  d.max_vocab = r.get<int32_t>();
  d.seed = r.get<uint64_t>();
  d.val_fraction = r.get<float>();
  d.max_len = r.get<int32_t>();
  d.truncate_pre = r.get<uint8_t>() != 0;
  d.train_limit = r.get<int32_t>();
  d.test_limit = r.get<int32_t>();
  tokenizer_version = r.get<uint32_t>();
  check(d.min_freq >= 1 && d.max_vocab >= 0 && d.val_fraction >= 0.0f && d.val_fraction < 1.0f && d.max_len >= 0 &&
            d.train_limit >= 0 && d.test_limit >= 0,
        path, "data settings");
  return d;
}

void put_run(BinaryWriter& w, const RunSettings& run) {
  const TrainOptions& t = run.train;
  for (int32_t v : {t.epochs, t.patience, t.lr_plateau, t.batch_size, t.chop}) w.put<int32_t>(v);
  put_enum(w, t.batching);
  put_enum(w, t.select);
  put_enum(w, t.lr_schedule);
  w.put<uint64_t>(t.seed);
  w.put_string(t.out_dir);
  w.put<uint8_t>(t.skip_nonfinite);
  const BackendOptions& b = run.backend;
  put_enum(w, b.algo);
  put_enum(w, b.math);
  w.put<uint8_t>(b.deterministic);
  w.put<int32_t>(b.device_index);
  w.put<int32_t>(b.threads);
  w.put_string(b.profile_steps);
  w.put<float>(b.loss_scale);
  w.put_string(run.device);
}

RunSettings get_run(BinaryReader& r, const std::string& path) {
  RunSettings run;
  TrainOptions& t = run.train;
  for (int* v : {&t.epochs, &t.patience, &t.lr_plateau, &t.batch_size, &t.chop}) *v = r.get<int32_t>();
  t.batching = get_enum<BatchOrder>(r, path, "batch order");
  t.select = get_enum<Select>(r, path, "selection figure");
  t.lr_schedule = get_enum<LrSchedule>(r, path, "learning-rate schedule");
  t.seed = r.get<uint64_t>();
  t.out_dir = r.get_string(kMaxPath);
  t.skip_nonfinite = r.get<uint8_t>() != 0;
  BackendOptions& b = run.backend;
  b.algo = get_enum<RnnAlgo>(r, path, "cuDNN algorithm");
  b.math = get_enum<RnnMath>(r, path, "math");
  b.deterministic = r.get<uint8_t>() != 0;
  b.device_index = r.get<int32_t>();
  b.threads = r.get<int32_t>();
  b.profile_steps = r.get_string(256);
  b.loss_scale = r.get<float>();
  run.device = r.get_string(256);
  check(t.epochs >= 1 && t.patience >= 0 && t.lr_plateau >= 0 && t.batch_size >= 1 && t.batch_size <= (1 << 20) &&
            t.chop >= 0 && t.chop <= 1'000'000 &&
            !t.out_dir.empty() &&
            b.device_index >= 0 && b.threads >= 0 && b.threads <= 1024 && b.loss_scale >= 0.0f &&
            std::isfinite(b.loss_scale),
        path, "training or backend settings");
  return run;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  BinaryWriter w;
  put_model(w, c.model);
  for (float f : {c.optim.lr, c.optim.beta1, c.optim.beta2, c.optim.eps, c.optim.weight_decay, c.optim.clip_norm})
    w.put<float>(f);
  put_data(w, c.data, c.tokenizer_version);
  put_run(w, c.run);
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
  w.put<double>(c.progress.best_val_acc);
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
  if (version < kVersion)
    fail(path + ": checkpoint format " + std::to_string(version) + " is older than this rnnbench's " +
         std::to_string(kVersion) + ": retrain, or use the rnnbench version that wrote it");
  if (version > kVersion)
    fail(path + ": checkpoint format " + std::to_string(version) + " is newer than this rnnbench's " +
         std::to_string(kVersion) + ": use a newer rnnbench");
  const uint8_t* payload = bytes.data() + sizeof kMagic + sizeof version;
  const size_t payload_size = bytes.size() - sizeof kMagic - sizeof version - sizeof(uint32_t);
  uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, payload + payload_size, sizeof stored_crc);
  if (crc_of(payload, payload_size) != stored_crc) fail(path + " is corrupt (CRC32 mismatch)");

  BinaryReader r(payload, payload_size, path);
  Checkpoint c;
  c.model = get_model(r, path);
  for (float* f : {&c.optim.lr, &c.optim.beta1, &c.optim.beta2, &c.optim.eps, &c.optim.weight_decay, &c.optim.clip_norm})
    *f = r.get<float>();
  const OptimConfig& o = c.optim;
  if (!(o.lr > 0.0f && o.beta1 >= 0.0f && o.beta1 < 1.0f && o.beta2 >= 0.0f && o.beta2 < 1.0f && o.eps > 0.0f &&
        o.weight_decay >= 0.0f && o.clip_norm >= 0.0f && std::isfinite(o.lr) && std::isfinite(o.eps) &&
        std::isfinite(o.weight_decay) && std::isfinite(o.clip_norm)))
    fail(path + " is corrupt: optimizer settings out of range");
  c.data = get_data(r, path, c.tokenizer_version);
  c.run = get_run(r, path);
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
  c.progress.best_val_acc = r.get<double>();
  c.progress.best_epoch = r.get<int32_t>();
  for (uint64_t& s : c.progress.epoch_rng) s = r.get<uint64_t>();
  BatchStats& e = c.progress.epoch_stats;
  e.loss_sum = r.get<double>();
  for (int64_t* v : {&e.correct, &e.count, &e.real_tokens, &e.computed_tokens, &e.skipped}) *v = r.get<int64_t>();
  c.progress.epoch_seconds = r.get<double>();
  c.progress.lr = r.get<float>();
  c.progress.plateau_wait = r.get<int32_t>();
  if (!(c.progress.lr >= 0.0f) || c.progress.plateau_wait < 0)
    fail(path + " is corrupt: learning rate or plateau counter out of range");
  if (!(c.progress.best_val_acc == -1.0 || (c.progress.best_val_acc >= 0.0 && c.progress.best_val_acc <= 1.0)))
    fail(path + " is corrupt: best validation accuracy out of range");
  if (c.progress.epochs_done < 0 || c.progress.next_batch < 0 || c.progress.global_step < 0 || c.state.adam_step < 0)
    fail(path + " is corrupt: negative progress counters");
  if (r.remaining() != 0) fail(path + " is corrupt: unexpected trailing data");
  return c;
}

}  // namespace rnnb
