// Reads back one flat JSON object, as JsonLine (util/json.h) writes them: string, number,
// true, false and null values, no nesting. Enough for the trainer to read its own
// metrics.jsonl lines by field, never by text prefix.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace rnnb {

struct JsonScalar {
  enum class Kind { String, Number, Bool, Null };
  Kind kind = Kind::Null;
  std::string text;     // a string's value, unescaped
  double number = 0.0;  // a number's value
  bool boolean = false;
};

using JsonFields = std::map<std::string, JsonScalar, std::less<>>;

// nullopt unless `line` is exactly one flat object (surrounding spaces allowed).
std::optional<JsonFields> parse_json_object(std::string_view line);

}  // namespace rnnb
