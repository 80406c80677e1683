// One table of names per user-facing enum: each value's command-line spelling and a short
// description. The name of a value, the parse of a name (with an error that lists the
// accepted names) and the option's --help text are all read from the table, so the three
// cannot drift apart and no other code compares option strings.
//
// An enum E opts in by declaring, next to E and in its namespace,
//   inline constexpr auto kENames = make_name_table<E>("--option", {{E::A, "a", "what a is"}, ...});
//   constexpr const auto& names_of(E) { return kENames; }
// after which enum_name(value) and parse_enum<E>(text) work for it (found through ADL).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/error.h"

namespace rnnb {

template <typename E>
struct NamedValue {
  E value{};
  std::string_view name;
  std::string_view help;  // a few words for --help; "" leaves the name alone
  bool alias = false;     // accepted by parse, but neither listed nor used by name()
};

template <typename E, size_t N>
struct NameTable {
  std::string_view what;  // the option the names belong to, for errors: "--cell"
  NamedValue<E> entries[N];

  // The first (canonical) name of `value`; "?" for a value outside the table.
  std::string name(E value) const {
    for (const NamedValue<E>& e : entries)
      if (e.value == value && !e.alias) return std::string(e.name);
    return "?";
  }

  bool contains(E value) const {
    for (const NamedValue<E>& e : entries)
      if (e.value == value) return true;
    return false;
  }

  // Throws UsageError naming the option and the accepted names.
  E parse(std::string_view text) const {
    for (const NamedValue<E>& e : entries)
      if (e.name == text) return e.value;
    throw UsageError("unknown " + std::string(what) + " '" + std::string(text) + "' (expected " + choices(false) +
                     ")");
  }

  // "a, b or c"; with help, "a (what a is), b or c (what c is)".
  std::string choices(bool with_help = true) const {
    std::string out;
    size_t listed = 0, count = 0;
    for (const NamedValue<E>& e : entries) count += !e.alias;
    for (const NamedValue<E>& e : entries) {
      if (e.alias) continue;
      if (listed > 0) out += listed + 1 == count ? " or " : ", ";
      out += e.name;
      if (with_help && !e.help.empty()) out += " (" + std::string(e.help) + ")";
      ++listed;
    }
    return out;
  }
};

// Deduces the table's size from the braced list of entries.
template <typename E, size_t N>
constexpr NameTable<E, N> make_name_table(std::string_view what, const NamedValue<E> (&entries)[N]) {
  NameTable<E, N> table{what, {}};
  for (size_t i = 0; i < N; ++i) table.entries[i] = entries[i];
  return table;
}

template <typename E>
std::string enum_name(E value) {
  return names_of(E{}).name(value);
}

template <typename E>
E parse_enum(std::string_view text) {
  return names_of(E{}).parse(text);
}

}  // namespace rnnb
