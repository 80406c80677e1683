// From parsed options to the engine's configuration structs, and the backend choice.
#pragma once

#include <memory>
#include <string>

#include "cli/options.h"
#include "data/dataset.h"
#include "model/model_config.h"
#include "train/backend.h"
#include "train/trainer.h"

namespace rnnb {

DataOptions data_options(const Options& options);
// The settings that decide the vocabulary and splits, stored in checkpoints.
std::string data_settings(const DataOptions& data);
// Applies stored data settings over `data` (keeps its path and cache folder).
void apply_data_settings(const std::string& settings, DataOptions& data);

ModelConfig model_config(const Options& options, int vocab_size);
OptimConfig optim_config(const Options& options);
TrainOptions train_options(const Options& options);
BackendOptions backend_options(const Options& options);
// The backend's test hooks, from the environment (docs/RELIABILITY.md).
BackendHooks backend_hooks();

// Throws UsageError unless the device is cpu, cuda or auto.
void check_device(const std::string& device);

// --device cpu|cuda|auto.
std::unique_ptr<Backend> make_backend(const std::string& device, const ModelConfig& model,
                                      const OptimConfig& optim, const BackendOptions& backend,
                                      uint64_t seed, const BackendHooks& hooks = {});

}  // namespace rnnb
