// The option table and its parser.
#include "cli/options.h"

#include <cmath>
#include <iostream>
#include <sstream>

#include "cli/presets.h"
#include "data/batching.h"
#include "model/model_config.h"
#include "model/rnn_algo.h"
#include "train/train_options.h"
#include "util/error.h"

namespace rnnb {
namespace {

const std::vector<std::string> kData = {"data", "train", "eval"};
const std::vector<std::string> kTrain = {"train"};
const std::vector<std::string> kRun = {"train", "eval", "predict"};

}  // namespace

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = {
      // Data.
      {"data", "", "IMDB source: aclImdb_v1.tar.gz, the labeled copy, or an aclImdb/ folder (default: $RNNB_DATA, then datasets/, then ../shared/datasets/)", kData},
      {"cache-dir", ".cache", "folder for the numericalized cache; empty disables it", kData},
      {"min-freq", "5", "vocabulary: words seen fewer times in the training split become <unk>", kData},
      {"max-vocab", "0", "vocabulary size limit including <pad> and <unk>; 0 = no limit", kData},
      {"val-fraction", "0.2", "share of the 25,000 training reviews held out for validation", kData},
      {"seed", "1", "seed for the split, initialization, batch order and dropout", {"data", "train", "eval"}},
      {"max-len", "0", "cut reviews to this many tokens; 0 = no limit", kData},
      {"truncate", "post", "with --max-len: keep the first (post) or last (pre) tokens", kData},
      {"train-limit", "0", "use only this many training reviews (seeded subset); 0 = all", kData},
      {"test-limit", "0", "use only this many test reviews (seeded subset); 0 = all", kData},
      // Model.
      {"preset", "", "start from a named preset (see `rnnbench presets`); explicit options override it", kTrain},
      {"cell", "gru", "recurrent cell: " + kCellNames.choices(), kTrain},
      {"embed", "128", "embedding size", kTrain},
      {"hidden", "256", "hidden size of every recurrent layer", kTrain},
      {"layers", "1", "stacked recurrent layers", kTrain},
      {"bidirectional", "false", "run a reverse direction too and concatenate both final states", kTrain, true},
      {"dropout", "0", "dropout between stacked recurrent layers (on the GPU, cuDNN's generator: a resumed run is not bit-identical)", kTrain},
      {"head-dropout", "0", "dropout on the features entering the head", kTrain},
      {"pool", "last", "features for the head: " + kPoolNames.choices(), kTrain},
      {"embed-dropout", "0", "dropout on the embedding outputs (training only)", kTrain},
      {"word-dropout", "0", "share of each training batch's real tokens read as <unk> (training only)", kTrain},
      {"head-hidden", "0", "units of a ReLU layer between the features and the output layer; 0 = none", kTrain},
      // Optimizer.
      {"lr", "0.001", "Adam learning rate", kTrain},
      {"weight-decay", "0", "L2 weight decay added to the gradient (torch.optim.Adam)", kTrain},
      {"clip-norm", "0", "clip the global gradient norm to this; 0 disables", kTrain},
      // Training loop.
      {"epochs", "5", "training epochs", kTrain},
      {"select", "loss", "the validation figure that picks the kept epoch, and that --patience and --lr-plateau watch: " + kSelectNames.choices(), kTrain},
      {"patience", "0", "early stopping: stop when the selected validation figure has not improved for this many epochs; 0 = off", kTrain},
      {"lr-plateau", "0", "halve the learning rate when the selected validation figure has not improved for this many epochs; 0 = off", kTrain},
      {"lr-schedule", "constant", "learning rate over the steps: " + kLrScheduleNames.choices(), kTrain},
      {"chop", "0", "train on segments of at most this many tokens cut from each review (validation and test read whole reviews); 0 = whole reviews", kTrain},
      {"batch-size", "64", "reviews per batch", {"train", "eval"}},
      {"batching", "bucket", "batch order: " + kBatchOrderNames.choices(), kTrain},
      {"padding", "packed", "batch layout: " + kPaddingNames.choices(), kTrain},
      {"device", "auto", "cpu, cuda, or auto (cuda when a GPU is usable)", kRun},
      {"algo", "standard", "cuDNN RNN algorithm: " + kRnnAlgoNames.choices(), kTrain},
      {"math", "fp32", "matrix-product precision: " + kRnnMathNames.choices(), kTrain},
      {"deterministic", "false", "bit-identical runs on the GPU (deterministic kernels, CUBLAS_WORKSPACE_CONFIG=:4096:8; a resume with --dropout is not)", kTrain, true},
      {"threads", "0", "CPU backend threads (the recurrence is split by sequence between them); 0 = every hardware thread", kRun},
      {"out", "results/train/latest", "folder for metrics.jsonl, best.ckpt and last.ckpt", kTrain},
      {"resume", "", "continue the run saved in this checkpoint (last.ckpt or an interrupted run's)", kTrain},
      {"skip-nonfinite", "false", "skip (and count) steps whose loss or gradient is NaN/Inf instead of stopping", kTrain, true},
      {"progress", "auto", "progress bar: auto (on a terminal), on, off", {"train", "eval"}},
      {"profile-steps", "", "A:B brackets training steps A..B with cudaProfilerStart/Stop (Nsight)", kTrain},
      // Evaluation and prediction.
      {"checkpoint", "", "checkpoint file to read", {"eval", "predict"}},
      {"split", "test", "which split to evaluate: test or validation", {"eval"}},
      {"text", "", "review text to classify; without it, one review per line from standard input", {"predict"}},
  };
  return table;
}

namespace {

const OptionSpec* find_spec(const std::string& command, const std::string& name) {
  for (const OptionSpec& spec : option_table())
    if (spec.name == name)
      for (const std::string& c : spec.commands)
        if (c == command) return &spec;
  return nullptr;
}

}  // namespace

Options Options::parse(const std::string& command, const std::vector<std::string>& args) {
  Options options;
  options.command_ = command;
  for (const OptionSpec& spec : option_table())
    for (const std::string& c : spec.commands)
      if (c == command) options.values_[spec.name] = spec.default_value;

  std::map<std::string, std::string> given;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const OptionSpec* spec = find_spec(command, name);
    if (!spec) throw UsageError("unknown option --" + name + " for '" + command + "'");
    if (!inline_value) {
      if (spec->flag) {
        value = "true";
      } else {
        if (i + 1 >= args.size()) throw UsageError("option --" + name + " needs a value");
        value = args[++i];
      }
    }
    given[name] = value;
  }
  // A preset's values first, explicit options over them.
  if (auto preset = given.find("preset"); preset != given.end() && !preset->second.empty())
    for (const auto& [name, value] : find_preset(preset->second).options) options.values_[name] = value;
  for (const auto& [name, value] : given) {
    options.values_[name] = value;
    options.explicit_[name] = true;
  }
  return options;
}

std::string Options::text(const std::string& name) const {
  auto it = values_.find(name);
  RNNB_ASSERT(it != values_.end());
  return it->second;
}

int Options::integer(const std::string& name, long min, long max) const {
  const std::string value = text(name);
  size_t used = 0;
  long parsed = 0;
  try {
    parsed = std::stol(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || value.empty())
    throw UsageError("--" + name + " needs a whole number, got '" + value + "'");
  if (parsed < min || parsed > max)
    throw UsageError("--" + name + " must be between " + std::to_string(min) + " and " + std::to_string(max) +
                     ", got " + value);
  return static_cast<int>(parsed);
}

double Options::number(const std::string& name, double min, double max) const {
  const std::string value = text(name);
  size_t used = 0;
  double parsed = 0;
  try {
    parsed = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || value.empty() || !std::isfinite(parsed))
    throw UsageError("--" + name + " needs a number, got '" + value + "'");
  if (parsed < min || parsed > max) {
    std::ostringstream range;
    range << "--" << name << " must be between " << min << " and " << max << ", got " << value;
    throw UsageError(range.str());
  }
  return parsed;
}

bool Options::flag(const std::string& name) const {
  const std::string value = text(name);
  if (value == "true" || value == "1" || value == "yes" || value == "on") return true;
  if (value == "false" || value == "0" || value == "no" || value == "off") return false;
  throw UsageError("--" + name + " takes true or false, got '" + value + "'");
}

void print_help(const std::string& command) {
  std::cout << "usage: rnnbench " << command << " [options]\n\noptions (default in brackets):\n";
  for (const OptionSpec& spec : option_table()) {
    bool applies = false;
    for (const std::string& c : spec.commands) applies |= c == command;
    if (!applies) continue;
    std::string left = "  --" + spec.name + (spec.flag ? "" : " VALUE");
    if (left.size() < 26) left.resize(26, ' ');
    else left += "\n" + std::string(26, ' ');
    std::cout << left << spec.help << " [" << (spec.default_value.empty() ? "none" : spec.default_value) << "]\n";
  }
  std::cout << "  --help                  this text\n";
}

}  // namespace rnnb
