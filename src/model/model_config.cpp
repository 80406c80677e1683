// Pooling names as the command line spells them.
#include "model/model_config.h"

#include "util/error.h"

namespace rnnb {

std::string pool_name(Pool pool) {
  switch (pool) {
    case Pool::Last: return "last";
    case Pool::Mean: return "mean";
    case Pool::Max: return "max";
    case Pool::MeanMax: return "meanmax";
  }
  return "?";
}

Pool parse_pool(const std::string& name) {
  if (name == "last") return Pool::Last;
  if (name == "mean") return Pool::Mean;
  if (name == "max") return Pool::Max;
  if (name == "meanmax") return Pool::MeanMax;
  throw UsageError("unknown pooling '" + name + "' (expected last, mean, max or meanmax)");
}

}  // namespace rnnb
