#include "core/config_options.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace vramq::core {
namespace {

TEST(ConfigOptions, KeysAndFlagsAreUniqueAndDefaultsPassTheirChecks) {
  std::set<std::string> keys;
  std::set<std::string> flags;
  for (const ConfigOption& o : config_options()) {
    EXPECT_TRUE(keys.insert(std::string(o.key)).second) << o.key;
    EXPECT_TRUE(flags.insert(flag_of(o)).second) << o.key;
    EXPECT_FALSE(o.help.empty()) << o.key;
    EXPECT_TRUE(check_option(o, Config{})) << o.key;
    EXPECT_EQ(find_option(o.key), &o);
  }
  EXPECT_EQ(flag_of(*find_option("vram_buffer_mb")), "--vram-buffer-mb");
  EXPECT_EQ(flag_of(*find_option("slurm_sbatch_args")), "--slurm-sbatch-arg");
  EXPECT_EQ(find_option("nope"), nullptr);
}

// What value_text writes, the TOML reader reads back as the same value: for every option.
TEST(ConfigOptions, EveryDefaultWrittenAsTomlReadsBack) {
  Config changed;
  changed.slurm_sbatch_args = {"--qos=\"low\"", "a\\b"};
  for (const Config& c : {Config{}, changed}) {
    std::string toml;
    for (const ConfigOption& o : config_options())
      toml += std::string(o.key) + " = " + value_text(o, c) + "\n";
    auto back = parse_config(toml, Config{});
    ASSERT_TRUE(back) << back.error().message << "\n" << toml;
    for (const ConfigOption& o : config_options())
      EXPECT_EQ(value_text(o, *back), value_text(o, c)) << o.key;
  }
}

// Each option's own check refuses what it must, from the file and in validate_config alike,
// naming the key.
TEST(ConfigOptions, EveryRangeAndChoiceIsChecked) {
  int checked = 0;
  for (const ConfigOption& o : config_options()) {
    std::string bad;
    if (std::holds_alternative<std::int64_t Config::*>(o.field) &&
        o.min > std::numeric_limits<std::int64_t>::min()) {
      bad = std::to_string(o.min - 1);
    } else if (!o.choices.empty()) {
      bad = "\"no-such-choice\"";
    } else if (o.not_empty) {
      bad = "\"\"";
    } else {
      continue;
    }
    ++checked;
    auto parsed = parse_config(std::string(o.key) + " = " + bad + "\n", Config{});
    ASSERT_FALSE(parsed) << o.key;
    EXPECT_NE(parsed.error().message.find(o.key), std::string::npos) << parsed.error().message;
  }
  EXPECT_GE(checked, 30);
  Config c;
  c.event_ring_mb = 65537;
  EXPECT_EQ(validate_config(c).error().message, "event_ring_mb must be between 1 and 65536");
  c = Config{};
  c.log_limit_bytes = -1;
  EXPECT_EQ(validate_config(c).error().message, "log_limit_bytes must be >= 0 (0: no cap)");
  c = Config{};
  c.vram_policy = "shrug";
  EXPECT_EQ(validate_config(c).error().message, "vram_policy must be kill or warn");
}

TEST(ConfigOptions, TextAsAFlagGivesIt) {
  Config c;
  EXPECT_TRUE(apply_text(*find_option("queue_max"), "7", c));
  EXPECT_EQ(c.queue_max, 7);
  EXPECT_FALSE(apply_text(*find_option("queue_max"), "7x", c));
  EXPECT_FALSE(apply_text(*find_option("queue_max"), "", c));
  EXPECT_TRUE(apply_text(*find_option("retain_ended"), "2h", c));
  EXPECT_EQ(c.retain_ended_s, 7200);
  EXPECT_TRUE(apply_text(*find_option("vram_tolerance"), "25%", c));
  EXPECT_DOUBLE_EQ(c.vram_tolerance, 0.25);
  EXPECT_FALSE(apply_text(*find_option("vram_tolerance"), "lots", c));
  EXPECT_TRUE(apply_text(*find_option("slurm_sbatch_args"), "--qos=a", c));
  EXPECT_TRUE(apply_text(*find_option("slurm_sbatch_args"), "--qos=b", c));
  EXPECT_EQ(c.slurm_sbatch_args, (std::vector<std::string>{"--qos=a", "--qos=b"}));
  EXPECT_TRUE(apply_text(*find_option("allow_raw_commands"), "true", c));
  EXPECT_TRUE(c.allow_raw_commands);
  EXPECT_FALSE(apply_text(*find_option("allow_raw_commands"), "yes", c));
}

// docs/operations.md holds the reference table as config_reference() makes it: a new option (or
// a changed default or help) that the docs miss fails here. VRAMQ_UPDATE_DOCS=1 writes the table
// into the docs instead.
TEST(ConfigOptions, TheOperationsGuideHasTheReferenceTable) {
  const std::string path = VRAMQ_SOURCE_DIR "/docs/operations.md";
  std::ifstream in(path);
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  std::string docs = text.str();
  const std::string begin = "<!-- options:begin (made by core::config_reference) -->\n";
  const std::string end = "<!-- options:end -->";
  std::size_t from = docs.find(begin);
  std::size_t to = docs.find(end);
  ASSERT_NE(from, std::string::npos) << "no reference table in docs/operations.md";
  ASSERT_NE(to, std::string::npos);
  std::string table = docs.substr(from + begin.size(), to - from - begin.size());
  if (table != config_reference() && std::getenv("VRAMQ_UPDATE_DOCS") != nullptr) {
    docs.replace(from + begin.size(), table.size(), config_reference());
    std::ofstream(path, std::ios::trunc) << docs;
    return;
  }
  EXPECT_EQ(table, config_reference())
      << "docs/operations.md's option table differs (VRAMQ_UPDATE_DOCS=1 rewrites it)";
}

}  // namespace
}  // namespace vramq::core
