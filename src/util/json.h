// A one-line JSON object builder for metrics and results files (numbers, strings, bools).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace rnnb {

class JsonLine {
 public:
  JsonLine& add(const std::string& key, const std::string& value) { return raw(key, quote(value)); }
  JsonLine& add(const std::string& key, const char* value) { return raw(key, quote(value)); }
  JsonLine& add(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }
  JsonLine& add(const std::string& key, int64_t value) { return raw(key, std::to_string(value)); }
  JsonLine& add(const std::string& key, int value) { return raw(key, std::to_string(value)); }
  JsonLine& add(const std::string& key, double value) {
    if (!std::isfinite(value)) return raw(key, "null");
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.9g", value);
    return raw(key, buffer);
  }
  // A pre-rendered JSON value (nested object or array).
  JsonLine& raw(const std::string& key, const std::string& json) {
    if (!body_.empty()) body_ += ',';
    body_ += quote(key);
    body_ += ':';
    body_ += json;
    return *this;
  }
  std::string str() const { return "{" + body_ + "}"; }

  static std::string quote(const std::string& s) {
    std::string out(1, '"');
    for (unsigned char c : s) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20) {
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
        out += buffer;
      } else {
        out += static_cast<char>(c);
      }
    }
    out += '"';
    return out;
  }

 private:
  std::string body_;
};

}  // namespace rnnb
