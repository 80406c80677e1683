// Fresh parameters, initialized the way PyTorch initializes the same modules.
#include <cmath>

#include "train/backend.h"
#include "util/rng.h"

namespace rnnb {

TrainState initial_state(const ModelConfig& config, uint64_t seed) {
  const ParamLayout layout(config);
  TrainState state;
  state.params.resize(layout.total);
  state.adam_m.assign(layout.total, 0.0f);
  state.adam_v.assign(layout.total, 0.0f);
  Rng rng(seed);
  for (size_t i = layout.embedding; i < layout.rnn; ++i)
    state.params[i] = static_cast<float>(rng.normal());
  const float rnn_bound = 1.0f / std::sqrt(static_cast<float>(config.hidden));
  for (size_t i = layout.rnn; i < layout.head_w; ++i) state.params[i] = rng.uniform(-rnn_bound, rnn_bound);
  // Each linear layer U(-1/sqrt(fan_in), 1/sqrt(fan_in)), output layer first (layout order).
  const float head_bound = 1.0f / std::sqrt(static_cast<float>(config.head_input()));
  for (size_t i = layout.head_w; i < layout.hidden_w; ++i) state.params[i] = rng.uniform(-head_bound, head_bound);
  const float hidden_bound = 1.0f / std::sqrt(static_cast<float>(config.features()));
  for (size_t i = layout.hidden_w; i < layout.total; ++i) state.params[i] = rng.uniform(-hidden_bound, hidden_bound);
  state.dropout_rng = Rng(seed ^ 0x5deece66dULL).state();
  return state;
}

}  // namespace rnnb
