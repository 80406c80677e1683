// From parsed options to the engine's configuration structs, and the backend choice.
#pragma once

#include <memory>
#include <string>

#include "cli/options.h"
#include "data/dataset.h"
#include "model/model_config.h"
#include "train/backend.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace rnnb {

DataOptions data_options(const Options& options);

ModelConfig model_config(const Options& options, int vocab_size);
OptimConfig optim_config(const Options& options);
TrainOptions train_options(const Options& options);
BackendOptions backend_options(const Options& options);
// The backend's test hooks, from the environment (docs/RELIABILITY.md).
BackendHooks backend_hooks();

// The data a checkpoint's vocabulary and splits were made from, read from `here`'s path and
// cache folder (eval, predict). Throws Error when the tokenizer has changed since.
DataOptions stored_data(const Checkpoint& checkpoint, const DataOptions& here);

// `train --resume`: the checkpoint's data, model, training and backend settings and device
// replace those parsed from `options`, except the options given explicitly on this command
// line (a changed vocabulary setting is then refused by the caller's fingerprint check).
// The architecture is always the checkpoint's. Throws Error when the tokenizer has changed.
void apply_resume(const Options& options, const Checkpoint& checkpoint, DataOptions& data, ModelConfig& model,
                  RunSettings& run);

// Throws UsageError unless the device is cpu, cuda or auto.
void check_device(const std::string& device);

// --device cpu|cuda|auto.
std::unique_ptr<Backend> make_backend(const std::string& device, const ModelConfig& model,
                                      const OptimConfig& optim, const BackendOptions& backend,
                                      uint64_t seed, const BackendHooks& hooks = {});

}  // namespace rnnb
