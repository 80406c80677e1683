// Command-line options: one table names every option, the subcommands it belongs to, its
// default and its help; parsing, validation and --help all read that table.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace rnnb {

struct OptionSpec {
  std::string name;            // without the leading "--"
  std::string default_value;   // "" for none
  std::string help;
  std::vector<std::string> commands;  // subcommands that accept it
  bool flag = false;           // "--name" alone means true
};

const std::vector<OptionSpec>& option_table();

class Options {
 public:
  // Parses argv after the subcommand. Presets (--preset NAME) supply defaults that explicit
  // options override. Throws UsageError on unknown options or missing values.
  static Options parse(const std::string& command, const std::vector<std::string>& args);

  const std::string& command() const { return command_; }
  std::string text(const std::string& name) const;
  int integer(const std::string& name, long min, long max) const;
  double number(const std::string& name, double min, double max) const;
  bool flag(const std::string& name) const;
  bool given(const std::string& name) const { return explicit_.count(name) != 0; }
  // Overrides a value.
  void set(const std::string& name, const std::string& value) { values_[name] = value; }

 private:
  std::string command_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> explicit_;
};

void print_help(const std::string& command);

}  // namespace rnnb
