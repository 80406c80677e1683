// A small recursive-descent reader for flat JSON objects (see json_reader.h).
#include "util/json_reader.h"

#include <cctype>
#include <cstdlib>

namespace rnnb {
namespace {

class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}

  std::optional<JsonFields> object() {
    JsonFields fields;
    if (!eat('{')) return std::nullopt;
    if (!eat('}')) {
      do {
        std::string key;
        JsonScalar value;
        if (!string(key) || !eat(':') || !scalar(value)) return std::nullopt;
        fields[key] = std::move(value);
      } while (eat(','));
      if (!eat('}')) return std::nullopt;
    }
    skip_space();
    if (pos_ != s_.size()) return std::nullopt;
    return fields;
  }

 private:
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' || s_[pos_] == '\n')) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }

  bool string(std::string& out) {
    if (!eat('"')) return false;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) return false;
      const char e = s_[pos_++];
      switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          // JsonLine escapes only control characters this way; others are kept as UTF-8.
          if (pos_ + 4 > s_.size()) return false;
          const std::string hex(s_.substr(pos_, 4));
          for (char h : hex)
            if (!std::isxdigit(static_cast<unsigned char>(h))) return false;  // no sign, no spaces
          const long code = std::strtol(hex.c_str(), nullptr, 16);
          pos_ += 4;
          if (code < 0x80) {
            out += static_cast<char>(code);
          } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
          }
          break;
        }
        default: return false;
      }
    }
    return false;  // unterminated
  }

  bool scalar(JsonScalar& value) {
    skip_space();
    if (pos_ >= s_.size()) return false;
    const char c = s_[pos_];
    if (c == '"') {
      value.kind = JsonScalar::Kind::String;
      return string(value.text);
    }
    if (word("true") || word("false")) {
      value.kind = JsonScalar::Kind::Bool;
      value.boolean = c == 't';
      return true;
    }
    if (word("null")) {
      value.kind = JsonScalar::Kind::Null;
      return true;
    }
    // A number: the JSON grammar's characters, then strtod must take all of them.
    const size_t start = pos_;
    while (pos_ < s_.size() && std::string_view("+-0123456789.eE").find(s_[pos_]) != std::string_view::npos) ++pos_;
    if (pos_ == start) return false;
    value.text = std::string(s_.substr(start, pos_ - start));
    char* end = nullptr;
    value.number = std::strtod(value.text.c_str(), &end);
    value.kind = JsonScalar::Kind::Number;
    return end == value.text.c_str() + value.text.size();
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<JsonFields> parse_json_object(std::string_view line) { return Reader(line).object(); }

}  // namespace rnnb
