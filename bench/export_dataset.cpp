// Exports what the PyTorch peer (bench/peer_pytorch.py) needs to train exactly what
// bench_train times: for every training variant, the numericalized splits (same tokenizer,
// vocabulary and split), the batches of the first epochs in the trainer's order, the
// validation batches, and the model, optimizer and batching settings. Arrays are .npy
// files (numpy.load reads them), described by manifest.json.
//
// Also writes bench/imdb_lengths.inc, the review-length histogram the layer benchmarks
// sample from when the dataset is not given.
//
//   export_dataset --out DIR [--epochs N] [--quick] [--data=PATH]
//   export_dataset --length-histogram FILE [--data=PATH]
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "train_setup.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json.h"

namespace rnnb::bench {
namespace {

template <typename T>
const char* npy_type();
template <>
const char* npy_type<int32_t>() { return "<i4"; }
template <>
const char* npy_type<int64_t>() { return "<i8"; }
template <>
const char* npy_type<uint8_t>() { return "|u1"; }

// A one-dimensional .npy file (format 1.0, little-endian; header padded to 64 bytes).
template <typename T>
void write_npy(const std::string& path, const std::vector<T>& values) {
  std::string header = std::string("{'descr': '") + npy_type<T>() +
                       "', 'fortran_order': False, 'shape': (" + std::to_string(values.size()) + ",), }";
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string prefix = "\x93NUMPY";
  prefix += static_cast<char>(1);
  prefix += static_cast<char>(0);
  prefix += static_cast<char>(header.size() & 0xff);
  prefix += static_cast<char>(header.size() >> 8);
  AtomicFile file(path);
  file.write(prefix + header);
  file.write(values.data(), values.size() * sizeof(T));
  file.commit();
}

void write_split(const std::string& dir, const std::string& name, const TokenizedSplit& set) {
  write_npy(dir + "/" + name + "_tokens.npy", set.tokens);
  write_npy(dir + "/" + name + "_offsets.npy", set.offsets);
  write_npy(dir + "/" + name + "_labels.npy", set.labels);
}

// Batches as two arrays: the review indices of every batch end to end (each batch longest
// first, as the engine runs it), and where each batch starts.
void write_batches(const std::string& prefix, const std::vector<Batch>& batches) {
  std::vector<int32_t> reviews;
  std::vector<int64_t> offsets{0};
  for (const Batch& batch : batches) {
    reviews.insert(reviews.end(), batch.reviews.begin(), batch.reviews.end());
    offsets.push_back(static_cast<int64_t>(reviews.size()));
  }
  write_npy(prefix + "_reviews.npy", reviews);
  write_npy(prefix + "_offsets.npy", offsets);
}

std::string slug(const std::string& name) {
  std::string out = name;
  for (char& c : out)
    if (c == '/' || c == ':') c = '_';
  return out;
}

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "]";
}

int export_all(const std::string& out_dir, int epochs, const Mode& mode) {
  make_directories(out_dir);
  std::map<std::string, std::string> data_dirs;  // dataset address -> folder name
  std::vector<std::string> entries;
  for (const TrainVariant& variant : train_variants()) {
    TrainSetup setup = make_train_setup(variant, mode);
    const Dataset& dataset = dataset_for(setup, mode);
    const std::string address = std::to_string(reinterpret_cast<uintptr_t>(&dataset));
    if (!data_dirs.count(address)) {
      const std::string name = "data-" + std::to_string(data_dirs.size());
      make_directories(out_dir + "/" + name);
      write_split(out_dir + "/" + name, "train", dataset.train);
      write_split(out_dir + "/" + name, "validation", dataset.validation);
      write_split(out_dir + "/" + name, "test", dataset.test);
      data_dirs[address] = name;
    }
    const std::string dir = slug(variant.name());
    make_directories(out_dir + "/" + dir);
    Rng epoch_rng(setup.train.seed ^ kEpochSeedMix);
    for (int e = 1; e <= epochs; ++e)
      write_batches(out_dir + "/" + dir + "/train_epoch" + std::to_string(e),
                    make_batches(dataset.train, setup.train.batch_size, setup.train.batching,
                                 setup.model.padding, epoch_rng));
    Rng unused(0);
    write_batches(out_dir + "/" + dir + "/validation",
                  make_batches(dataset.validation, setup.train.batch_size, BatchOrder::Sequential,
                               setup.model.padding, unused));

    const ModelConfig& m = setup.model;
    const OptimConfig& o = setup.optim;
    const std::string model = JsonLine()
                                  .add("cell", enum_name(m.cell))
                                  .add("vocab_size", m.vocab_size)
                                  .add("embed", m.embed)
                                  .add("hidden", m.hidden)
                                  .add("layers", m.layers)
                                  .add("bidirectional", m.bidirectional)
                                  .add("rnn_dropout", static_cast<double>(m.rnn_dropout))
                                  .add("head_dropout", static_cast<double>(m.head_dropout))
                                  .add("classes", m.classes)
                                  .add("pool", enum_name(m.pool))
                                  .add("embed_dropout", static_cast<double>(m.embed_dropout))
                                  .add("head_hidden", m.head_hidden)
                                  .str();
    const std::string optim = JsonLine()
                                  .add("lr", static_cast<double>(o.lr))
                                  .add("beta1", static_cast<double>(o.beta1))
                                  .add("beta2", static_cast<double>(o.beta2))
                                  .add("eps", static_cast<double>(o.eps))
                                  .add("weight_decay", static_cast<double>(o.weight_decay))
                                  .add("clip_norm", static_cast<double>(o.clip_norm))
                                  .str();
    const std::string train = JsonLine()
                                  .add("batch_size", setup.train.batch_size)
                                  .add("batching", enum_name(setup.train.batching))
                                  .add("padding", enum_name(setup.model.padding))
                                  .add("seed", static_cast<int64_t>(setup.train.seed))
                                  .add("epochs_exported", epochs)
                                  .str();
    entries.push_back(JsonLine()
                          .add("name", variant.name())
                          .add("preset", variant.preset)
                          .add("dir", dir)
                          .add("data", data_dirs[address])
                          .add("vocab_fingerprint", std::to_string(dataset.vocab.fingerprint()))
                          .raw("model", model)
                          .raw("optim", optim)
                          .raw("train", train)
                          .str());
    std::cerr << "exported " << variant.name() << " -> " << out_dir << "/" << dir << "\n";
  }
  const std::string manifest = JsonLine()
                                   .add("format", 1)
                                   .add("source", mode.quick ? "synthetic" : "imdb")
                                   .raw("variants", json_array(entries))
                                   .str();
  write_file_atomic(out_dir + "/manifest.json", manifest + "\n");
  std::cout << "wrote " << out_dir << "/manifest.json (" << entries.size() << " variants)\n";
  return 0;
}

int export_histogram(const std::string& path, const Mode& mode) {
  DataOptions options;
  options.path = mode.data;
  const Dataset dataset = load_dataset(options, &std::cerr);
  std::map<int, int> counts;
  int64_t total = 0, sum = 0;
  for (const TokenizedSplit* set : {&dataset.train, &dataset.validation})
    for (size_t i = 0; i < set->size(); ++i) {
      ++counts[set->length(i)];
      ++total;
      sum += set->length(i);
    }
  std::string text = "// Lengths of the " + std::to_string(total) +
                     " IMDB training reviews (train + validation splits) under the project's tokenizer: "
                     "{length, reviews}. Mean " +
                     std::to_string(static_cast<double>(sum) / total) + ", max " +
                     std::to_string(counts.rbegin()->first) + ". Generated by export_dataset --length-histogram.\n";
  for (const auto& [length, count] : counts) text += "{" + std::to_string(length) + ", " + std::to_string(count) + "},\n";
  write_file_atomic(path, text);
  std::cout << "wrote " << path << ": " << total << " reviews, mean length " << static_cast<double>(sum) / total
            << ", max " << counts.rbegin()->first << "\n";
  return 0;
}

}  // namespace
}  // namespace rnnb::bench

int main(int argc, char** argv) {
  using namespace rnnb;
  try {
    const bench::Mode mode = bench::parse_mode(argc, argv);
    std::string out, histogram;
    int epochs = 3;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw UsageError(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--out") {
        out = value();
      } else if (arg == "--epochs") {
        epochs = std::stoi(value());
      } else if (arg == "--length-histogram") {
        histogram = value();
      } else {
        throw UsageError("unknown argument '" + arg +
                         "' (export_dataset --out DIR [--epochs N] [--quick] [--data=PATH] | --length-histogram FILE)");
      }
    }
    if (!histogram.empty()) return bench::export_histogram(histogram, mode);
    if (out.empty()) throw UsageError("export_dataset needs --out DIR or --length-histogram FILE");
    if (epochs < 1) throw UsageError("--epochs must be at least 1");
    return bench::export_all(out, epochs, mode);
  } catch (const UsageError& e) {
    std::cerr << "export_dataset: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "export_dataset: " << e.what() << "\n";
    return 1;
  }
}
