// rnnbench: train, evaluate and query IMDB sentiment RNN classifiers on cuDNN or the CPU.
#include <iostream>
#include <string>
#include <vector>

#include "cli/options.h"
#include "cli/presets.h"
#include "cli/run_config.h"
#include "data/tokenizer.h"
#include "train/checkpoint.h"
#include "train/interrupt.h"
#include "train/progress.h"
#include "train/trainer.h"
#include "util/error.h"

namespace rnnb {
namespace {

const char* kUsage =
    "usage: rnnbench COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  data      load IMDB and print counts, label balance, lengths and vocabulary\n"
    "  train     train a classifier, keep the best checkpoint, report test accuracy\n"
    "  eval      evaluate a checkpoint on the test (or validation) split\n"
    "  predict   P(positive) of a review text from a checkpoint\n"
    "  presets   list the named presets and their reference accuracies\n"
    "  version   versions of this build and of the libraries it runs on\n"
    "\n"
    "`rnnbench COMMAND --help` lists every option of a command with its default.\n";

Dataset load_data(const DataOptions& data) {
  Dataset dataset = load_dataset(data, &std::cerr);
  truncate_reviews(dataset.train, data.max_len, data.truncate_pre);
  truncate_reviews(dataset.validation, data.max_len, data.truncate_pre);
  truncate_reviews(dataset.test, data.max_len, data.truncate_pre);
  return dataset;
}

int run_data(const Options& options) {
  print_data_report(load_data(data_options(options)), std::cout);
  return 0;
}

int run_train(const Options& options) {
  Checkpoint resume;
  const bool resuming = !options.text("resume").empty();
  if (resuming) resume = load_checkpoint(options.text("resume"));
  // Every option is checked before the data is read.
  DataOptions data = data_options(options);
  ModelConfig model = model_config(options, 0);
  RunSettings run{train_options(options), backend_options(options), options.text("device")};
  if (resuming) apply_resume(options, resume, data, model, run);  // the original run's settings; explicit ones win
  check_device(run.device);
  TrainOptions train = run.train;
  train.progress = progress_enabled(options.text("progress"));
  const OptimConfig optim = resuming ? resume.optim : optim_config(options);

  const Dataset dataset = load_data(data);
  if (dataset.train.size() == 0) fail("the training split is empty (check --train-limit and --val-fraction)");

  Checkpoint base;
  if (!resuming) model.vocab_size = dataset.vocab.size();
  base.model = model;
  base.optim = optim;
  base.data = data;
  base.run = run;
  base.vocab = dataset.vocab.words();
  base.vocab_fingerprint = dataset.vocab.fingerprint();
  if (resuming && resume.vocab_fingerprint != base.vocab_fingerprint)
    fail("--resume: the checkpoint's vocabulary does not match this data (different dataset or settings)");

  auto backend = make_backend(run.device, base.model, base.optim, run.backend, train.seed, backend_hooks());

  std::cerr << "training " << enum_name(base.model.cell) << " (" << base.model.layers << " layer"
            << (base.model.layers > 1 ? "s" : "") << (base.model.bidirectional ? ", bidirectional" : "")
            << ", embed " << base.model.embed << ", hidden " << base.model.hidden
            << (base.model.pool != Pool::Last ? ", pool " + enum_name(base.model.pool) : "")
            << (base.model.head_hidden > 0 ? ", head hidden " + std::to_string(base.model.head_hidden) : "")
            << ", vocabulary "
            << base.model.vocab_size << ") on " << backend->name() << ": " << dataset.train.size()
            << " train / " << dataset.validation.size() << " validation / " << dataset.test.size()
            << " test reviews, " << enum_name(base.model.padding) << ", batch " << train.batch_size << "\n";
  if (resuming && backend->name().starts_with("cuda") && base.model.rnn_dropout > 0.0f && base.model.layers > 1)
    std::cerr << "warning: cuDNN's dropout generator between layers is not saved in checkpoints: this resumed run "
                 "draws other --dropout masks than an uninterrupted one would (it is not bit-identical)\n";
  Trainer trainer(*backend, dataset.train, dataset.validation, dataset.test, train, base);
  trainer.run(resuming ? &resume : nullptr);
  std::cerr << "checkpoints and metrics in " << train.out_dir << "/\n";
  return 0;
}

// Rebuilds the checkpoint's model on the chosen device.
std::unique_ptr<Backend> restore_backend(const Options& options, const Checkpoint& checkpoint) {
  BackendOptions backend;
  backend.threads = options.integer("threads", 0, 1024);
  auto instance = make_backend(options.text("device"), checkpoint.model, checkpoint.optim, backend, 0);
  instance->set_state(checkpoint.state);
  return instance;
}

int run_eval(const Options& options) {
  if (options.text("checkpoint").empty()) throw UsageError("eval needs --checkpoint FILE");
  const Checkpoint checkpoint = load_checkpoint(options.text("checkpoint"));
  const DataOptions data = stored_data(checkpoint, data_options(options));
  const Dataset dataset = load_data(data);
  if (dataset.vocab.fingerprint() != checkpoint.vocab_fingerprint)
    fail("the checkpoint's vocabulary does not match this dataset (different data or vocabulary settings)");
  const std::string split = options.text("split");
  if (split != "test" && split != "validation") throw UsageError("--split takes test or validation");
  const TokenizedSplit& set = split == "test" ? dataset.test : dataset.validation;
  const Slot slot = split == "test" ? Slot::Test : Slot::Validation;

  const int batch_size =
      options.given("batch-size") ? options.integer("batch-size", 1, 1 << 20) : checkpoint.run.train.batch_size;
  auto backend = restore_backend(options, checkpoint);
  backend->attach(slot, set);
  const EvalResult result = evaluate_split(*backend, slot, set, batch_size, checkpoint.model.padding);
  std::printf("%s: loss %.4f  accuracy %.2f%% on %lld reviews (%s, %.1f s)\n", split.c_str(), result.loss,
              100 * result.accuracy, static_cast<long long>(result.count), backend->name().c_str(), result.seconds);
  return 0;
}

int run_predict(const Options& options) {
  if (options.text("checkpoint").empty()) throw UsageError("predict needs --checkpoint FILE");
  const Checkpoint checkpoint = load_checkpoint(options.text("checkpoint"));
  const Vocab vocab = Vocab::from_words(checkpoint.vocab);
  if (vocab.fingerprint() != checkpoint.vocab_fingerprint) fail("the checkpoint's vocabulary is inconsistent");

  std::vector<std::string> texts;
  if (options.given("text")) {
    texts.push_back(options.text("text"));
  } else {
    for (std::string line; std::getline(std::cin, line);) texts.push_back(line);
  }
  if (texts.empty()) fail("predict: no text given (use --text \"...\" or one review per line on standard input)");
  TokenizedSplit set;
  for (const std::string& text : texts) {
    if (tokenize(text).empty()) fail("predict: empty text; give a review with at least one word");
    const std::vector<int32_t> ids = numericalize(text, vocab);
    set.add(ids.data(), ids.size(), 0);
  }
  const DataOptions data = stored_data(checkpoint, DataOptions{});
  truncate_reviews(set, data.max_len, data.truncate_pre);

  auto backend = restore_backend(options, checkpoint);
  backend->attach(Slot::Scratch, set);
  Rng unused(0);
  for (const Batch& batch :
       make_batches(set, 64, BatchOrder::Sequential, checkpoint.model.padding, unused)) {
    std::vector<float> probability(batch.size());
    backend->evaluate(Slot::Scratch, batch, probability.data());
    for (int b = 0; b < batch.size(); ++b) {
      const size_t review = static_cast<size_t>(batch.reviews[b]);
      std::printf("%.4f\t%s\n", probability[b], texts[review].c_str());
    }
  }
  return 0;
}

int run_version() {
  std::cout << "rnnbench " << RNNB_VERSION << "\ncuDNN backend: " << (cuda_backend_built() ? "built" : "not built")
            << "\n";
  return 0;
}

int dispatch(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  for (const std::string& arg : args)
    if (arg == "--help" || arg == "-h") {
      if (command == "presets" || command == "version") std::cout << "usage: rnnbench " << command << "\n";
      else print_help(command);
      return 0;
    }
  if (command == "presets") {
    if (!args.empty()) throw UsageError("presets takes no options");
    print_presets();
    return 0;
  }
  if (command == "version") return run_version();
  if (command != "data" && command != "train" && command != "eval" && command != "predict")
    throw UsageError("unknown command '" + command + "'");
  const Options options = Options::parse(command, args);
  if (command == "data") return run_data(options);
  if (command == "train") return run_train(options);
  if (command == "eval") return run_eval(options);
  return run_predict(options);
}

}  // namespace
}  // namespace rnnb

int main(int argc, char** argv) {
  try {
    return rnnb::dispatch(argc, argv);
  } catch (const rnnb::UsageError& e) {
    std::cerr << "rnnbench: " << e.what() << " (see rnnbench " << (argc > 1 ? argv[1] : "") << " --help)\n";
    return 2;
  } catch (const rnnb::Interrupted& e) {
    std::cerr << "rnnbench: " << e.what() << "\n";
    return 130;
  } catch (const std::exception& e) {
    std::cerr << "rnnbench: error: " << e.what() << "\n";
    return 1;
  }
}
