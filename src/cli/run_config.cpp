// Option values -> configuration structs, with range checks in one place.
#include "cli/run_config.h"

#include <cstdlib>
#include <iostream>

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

void require_same_tokenizer(const Checkpoint& checkpoint) {
  if (checkpoint.tokenizer_version != kTokenizerVersion)
    fail("the checkpoint was made with tokenizer version " + std::to_string(checkpoint.tokenizer_version) +
         "; this build has " + std::to_string(kTokenizerVersion));
}

DataOptions stored_data(const Checkpoint& checkpoint, const DataOptions& here) {
  require_same_tokenizer(checkpoint);
  DataOptions data = checkpoint.data;
  data.path = here.path;
  data.cache_dir = here.cache_dir;
  return data;
}

void apply_resume(const Options& o, const Checkpoint& c, DataOptions& data, ModelConfig& model, RunSettings& run) {
  require_same_tokenizer(c);
  // The stored value, unless this command line gives the option.
  const auto keep = [&o](const char* option, auto& field, const auto& stored) {
    if (!o.given(option)) field = stored;
  };
  const DataOptions& d = c.data;
  keep("data", data.path, d.path);
  keep("cache-dir", data.cache_dir, d.cache_dir);
  keep("min-freq", data.min_freq, d.min_freq);
  keep("max-vocab", data.max_vocab, d.max_vocab);
  keep("seed", data.seed, d.seed);
  keep("val-fraction", data.val_fraction, d.val_fraction);
  keep("max-len", data.max_len, d.max_len);
  keep("truncate", data.truncate_pre, d.truncate_pre);
  keep("train-limit", data.train_limit, d.train_limit);
  keep("test-limit", data.test_limit, d.test_limit);

  // The architecture is the checkpoint's (its parameters depend on it); the padding,
  // which no parameter depends on, may be changed like any training option.
  const Padding padding = model.padding;  // as this command line parsed it
  model = c.model;
  if (o.given("padding")) model.padding = padding;

  TrainOptions& t = run.train;
  const TrainOptions& st = c.run.train;
  keep("epochs", t.epochs, st.epochs);
  keep("select", t.select, st.select);
  keep("patience", t.patience, st.patience);
  keep("lr-plateau", t.lr_plateau, st.lr_plateau);
  keep("lr-schedule", t.lr_schedule, st.lr_schedule);
  keep("chop", t.chop, st.chop);
  keep("batch-size", t.batch_size, st.batch_size);
  keep("batching", t.batching, st.batching);
  keep("seed", t.seed, st.seed);
  keep("out", t.out_dir, st.out_dir);
  keep("skip-nonfinite", t.skip_nonfinite, st.skip_nonfinite);

  BackendOptions& b = run.backend;
  const BackendOptions& sb = c.run.backend;
  keep("algo", b.algo, sb.algo);
  keep("math", b.math, sb.math);
  keep("deterministic", b.deterministic, sb.deterministic);
  keep("threads", b.threads, sb.threads);
  keep("profile-steps", b.profile_steps, sb.profile_steps);
  b.device_index = sb.device_index;  // neither has an option
  b.loss_scale = sb.loss_scale;
  keep("device", run.device, c.run.device);

  // Stopped in the middle of an epoch, the run continues at batch next_batch of that
  // epoch's batch list: nothing that changes the list may change.
  if (c.progress.next_batch > 0) {
    const std::pair<const char*, bool> changed[] = {
        {"batch-size", t.batch_size != st.batch_size}, {"batching", t.batching != st.batching},
        {"chop", t.chop != st.chop},
        {"seed", t.seed != st.seed || data.seed != d.seed}, {"padding", model.padding != c.model.padding},
        {"max-len", data.max_len != d.max_len}, {"truncate", data.truncate_pre != d.truncate_pre},
        {"train-limit", data.train_limit != d.train_limit}, {"val-fraction", data.val_fraction != d.val_fraction}};
    for (const auto& [option, differs] : changed)
      if (differs)
        throw UsageError(std::string("--resume: the checkpoint stopped in the middle of epoch ") +
                         std::to_string(c.progress.epochs_done + 1) + ", and --" + option +
                         " would change that epoch's batches; resume without it (or change it at an epoch's end)");
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
  m.word_dropout = static_cast<float>(o.number("word-dropout", 0.0, 0.95));
  m.head_hidden = o.integer("head-hidden", 0, 65536);
  m.padding = parse_enum<Padding>(o.text("padding"));
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
  t.select = parse_enum<Select>(o.text("select"));
  t.patience = o.integer("patience", 0, 100000);
  t.lr_plateau = o.integer("lr-plateau", 0, 100000);
  t.lr_schedule = parse_enum<LrSchedule>(o.text("lr-schedule"));
  t.chop = o.integer("chop", 0, 1'000'000);
  t.batch_size = o.integer("batch-size", 1, 1 << 20);
  t.batching = parse_enum<BatchOrder>(o.text("batching"));
  t.seed = static_cast<uint64_t>(o.integer("seed", 0, 2'000'000'000));
  t.out_dir = o.text("out");
  if (t.out_dir.empty()) throw UsageError("--out must name a folder");
  t.progress = false;
  t.skip_nonfinite = o.flag("skip-nonfinite");
  t.hooks.interrupt_after_steps = test_hook("RNNB_INTERRUPT_AFTER_STEPS");
  t.hooks.await_signal_at_step = test_hook("RNNB_AWAIT_SIGNAL_AT_STEP");
  if (t.hooks.await_signal_at_step > 0) {
    t.hooks.await_signal_ready_fd = static_cast<int>(test_hook("RNNB_AWAIT_SIGNAL_READY_FD"));
    if (t.hooks.await_signal_ready_fd < 3)
      fail("RNNB_AWAIT_SIGNAL_AT_STEP needs RNNB_AWAIT_SIGNAL_READY_FD, a descriptor above 2");
  }
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
