// Option values -> configuration structs, with range checks in one place.
#include "cli/run_config.h"

#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

#include "data/tokenizer.h"
#include "util/error.h"

namespace rnnb {
namespace {

// Fault-injection hooks for the tests (docs/RELIABILITY.md): a positive number (a step, or
// a file descriptor) from the environment, 0 when unset.
int64_t test_hook(const char* variable) {
  const char* value = std::getenv(variable);
  if (!value || !*value) return 0;
  char* end = nullptr;
  const long long step = std::strtoll(value, &end, 10);
  if (*end != '\0' || step < 1) fail(std::string(variable) + " must be a positive integer, got '" + value + "'");
  return step;
}

}  // namespace

DataOptions data_options(const Options& o) {
  DataOptions data;
  data.path = o.text("data");
  data.cache_dir = o.text("cache-dir");
  data.min_freq = o.integer("min-freq", 1, 1'000'000'000);
  data.max_vocab = o.integer("max-vocab", 0, 100'000'000);
  if (data.max_vocab == 1 || data.max_vocab == 2)
    throw UsageError("--max-vocab must be 0 (no limit) or at least 3 (<pad>, <unk> and one word)");
  data.seed = static_cast<uint64_t>(o.integer("seed", 0, 2'000'000'000));
  data.val_fraction = static_cast<float>(o.number("val-fraction", 0.0, 0.9));
  data.max_len = o.integer("max-len", 0, 1'000'000);
  const std::string truncate = o.text("truncate");
  if (truncate != "pre" && truncate != "post")
    throw UsageError("--truncate takes pre or post, got '" + truncate + "'");
  data.truncate_pre = truncate == "pre";
  data.train_limit = o.integer("train-limit", 0, 100'000'000);
  data.test_limit = o.integer("test-limit", 0, 100'000'000);
  return data;
}

std::string data_settings(const DataOptions& d) {
  std::ostringstream out;
  out << "tokenizer=" << kTokenizerVersion << "\nmin-freq=" << d.min_freq << "\nmax-vocab=" << d.max_vocab
      << "\nseed=" << d.seed << "\nval-fraction=" << d.val_fraction << "\nmax-len=" << d.max_len
      << "\ntruncate=" << (d.truncate_pre ? "pre" : "post") << "\ntrain-limit=" << d.train_limit
      << "\ntest-limit=" << d.test_limit << "\n";
  return out.str();
}

void apply_data_settings(const std::string& settings, DataOptions& d) {
  std::map<std::string, std::string> values;
  std::istringstream in(settings);
  std::string line;
  while (std::getline(in, line))
    if (const size_t eq = line.find('='); eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
  try {
    if (std::stoul(values.at("tokenizer")) != kTokenizerVersion)
      fail("the checkpoint was made with tokenizer version " + values.at("tokenizer") + "; this build has " +
           std::to_string(kTokenizerVersion));
    d.min_freq = std::stoi(values.at("min-freq"));
    d.max_vocab = std::stoi(values.at("max-vocab"));
    d.seed = std::stoull(values.at("seed"));
    d.val_fraction = std::stof(values.at("val-fraction"));
    d.max_len = std::stoi(values.at("max-len"));
    d.truncate_pre = values.at("truncate") == "pre";
    d.train_limit = std::stoi(values.at("train-limit"));
    d.test_limit = std::stoi(values.at("test-limit"));
  } catch (const Error&) {
    throw;
  } catch (const std::exception&) {
    fail("the checkpoint's data settings are incomplete or unreadable");
  }
}

ModelConfig model_config(const Options& o, int vocab_size) {
  ModelConfig m;
  m.cell = parse_enum<Cell>(o.text("cell"));
  m.vocab_size = vocab_size;
  m.embed = o.integer("embed", 1, 65536);
  m.hidden = o.integer("hidden", 1, 65536);
  m.layers = o.integer("layers", 1, 64);
  m.bidirectional = o.flag("bidirectional");
  m.rnn_dropout = static_cast<float>(o.number("dropout", 0.0, 0.95));
  m.head_dropout = static_cast<float>(o.number("head-dropout", 0.0, 0.95));
  m.pool = parse_enum<Pool>(o.text("pool"));
  m.embed_dropout = static_cast<float>(o.number("embed-dropout", 0.0, 0.95));
  m.head_hidden = o.integer("head-hidden", 0, 65536);
  return m;
}

OptimConfig optim_config(const Options& o) {
  OptimConfig c;
  c.lr = static_cast<float>(o.number("lr", 1e-9, 10.0));
  c.weight_decay = static_cast<float>(o.number("weight-decay", 0.0, 1.0));
  c.clip_norm = static_cast<float>(o.number("clip-norm", 0.0, 1e9));
  return c;
}

TrainOptions train_options(const Options& o) {
  TrainOptions t;
  t.epochs = o.integer("epochs", 1, 100000);
  t.patience = o.integer("patience", 0, 100000);
  t.lr_plateau = o.integer("lr-plateau", 0, 100000);
  t.batch_size = o.integer("batch-size", 1, 1 << 20);
  t.batching = parse_enum<BatchOrder>(o.text("batching"));
  t.padding = parse_enum<Padding>(o.text("padding"));
  t.seed = static_cast<uint64_t>(o.integer("seed", 0, 2'000'000'000));
  t.out_dir = o.text("out");
  if (t.out_dir.empty()) throw UsageError("--out must name a folder");
  t.progress = false;
  t.skip_nonfinite = o.flag("skip-nonfinite");
  t.hooks.interrupt_after_steps = test_hook("RNNB_INTERRUPT_AFTER_STEPS");
  t.hooks.await_signal_at_step = test_hook("RNNB_AWAIT_SIGNAL_AT_STEP");
  if (t.hooks.await_signal_at_step > 0)
    t.hooks.await_signal_ready_fd = static_cast<int>(test_hook("RNNB_AWAIT_SIGNAL_READY_FD"));
  return t;
}

BackendOptions backend_options(const Options& o) {
  BackendOptions b;
  b.threads = o.integer("threads", 0, 1024);
  if (o.command() == "train") {
    b.algo = parse_enum<RnnAlgo>(o.text("algo"));
    b.math = parse_enum<RnnMath>(o.text("math"));
    b.deterministic = o.flag("deterministic");
    b.profile_steps = o.text("profile-steps");
  }
  return b;
}

BackendHooks backend_hooks() {
  BackendHooks h;
  h.inject_nan_at_step = test_hook("RNNB_INJECT_NAN_AT_STEP");
  return h;
}

void check_device(const std::string& device) {
  if (device != "cpu" && device != "cuda" && device != "auto")
    throw UsageError("--device takes cpu, cuda or auto, got '" + device + "'");
}

std::unique_ptr<Backend> make_backend(const std::string& device, const ModelConfig& model, const OptimConfig& optim,
                                      const BackendOptions& backend, uint64_t seed, const BackendHooks& hooks) {
  check_device(device);
  if (device == "cpu") return make_cpu_backend(model, optim, backend, seed, hooks);
  if (device == "cuda") {
    try {
      return make_cuda_backend(model, optim, backend, seed, hooks);
    } catch (const NoGpuError& e) {
      fail(std::string("--device cuda: ") + e.what());
    }
  }
  if (!cuda_backend_built()) {
    std::cerr << "this build has no cuDNN backend; running on the CPU\n";
  } else {
    try {
      return make_cuda_backend(model, optim, backend, seed, hooks);
    } catch (const NoGpuError& e) {
      std::cerr << "no GPU found; running on the CPU (" << e.detail() << ")\n";
    } catch (const Error& e) {
      std::cerr << "the GPU is not usable (" << e.what() << "); running on the CPU\n";
    }
  }
  return make_cpu_backend(model, optim, backend, seed, hooks);
}

}  // namespace rnnb
