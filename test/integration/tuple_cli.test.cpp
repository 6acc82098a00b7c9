// `plexus tuple pack|unpack` as a process: offline (no node, no key), the
// published vectors through the binary, and bad input as one line on stderr
// with exit code 2.
#include "node_harness.hpp"

using namespace plexus::testing;

TEST_CASE("plexus tuple pack and unpack round trip through the binary") {
  // Proves the CLI packs JSON to the FoundationDB bytes and unpacks them back, with no node or key.
  const Cli cli;
  const auto packed = cli.run({"tuple", "pack", R"(["PUSH", [null, {"float": 3.299069e12}, {"float": -1.1883096e-38}]])"});
  REQUIRE_MESSAGE(packed.exit_code == 0, packed.err);
  CHECK(packed.out == "0250555348000500ff20d44007f5207f7e9ac200\n");

  const auto unpacked = cli.run({"tuple", "unpack", "0500FF0268656C6C00FF0000"});
  REQUIRE_MESSAGE(unpacked.exit_code == 0, unpacked.err);
  CHECK(json::parse(unpacked.out) == json::parse(R"([[null, "hell\u0000"]])"));

  const auto big = cli.run({"tuple", "pack", R"([{"int": "-18446744073709551616"}, 18446744073709551615])"});
  REQUIRE_MESSAGE(big.exit_code == 0, big.err);
  CHECK(big.out == "0bf6feffffffffffffffff1cffffffffffffffff\n");
  const auto back = cli.run({"tuple", "unpack", "0bf6feffffffffffffffff1cffffffffffffffff"});
  CHECK(json::parse(back.out) == json::parse(R"([{"int": "-18446744073709551616"}, {"int": "18446744073709551615"}])"));

  const auto stamped = cli.run({"tuple", "pack", "--versionstamp", R"(["foo", {"versionstamp": null}])"});
  REQUIRE_MESSAGE(stamped.exit_code == 0, stamped.err);
  CHECK(stamped.out == "02666f6f0033ffffffffffffffffffff000006000000\n");
}

TEST_CASE("plexus tuple refuses bad input in one line with exit code 2") {
  // Proves bad JSON, a bad element, bad hex, malformed bytes and versionstamp misuse each name what is wrong.
  const Cli cli;
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"tuple", "pack", "[1,"}, "plexus tuple pack: JSON: "},
      {{"tuple", "pack", R"([1, {"bytes": "abc"}])"}, "plexus tuple pack: JSON: [1].bytes: odd number of hex digits (3)"},
      {{"tuple", "pack", R"([{"versionstamp": null}])"}, "plexus tuple pack: invalid versionstamp: element [0]: incomplete versionstamp"},
      {{"tuple", "pack", "--versionstamp", R"([1])"}, "plexus tuple pack: invalid versionstamp: 0 incomplete versionstamps"},
      {{"tuple", "unpack", "0g"}, "plexus tuple unpack: HEX: not a hex digit at position 1"},
      {{"tuple", "unpack", "1601"}, "plexus tuple unpack: malformed tuple: offset 0: integer truncated"},
      {{"tuple", "unpack", "02eda0bd00"}, "plexus tuple unpack: malformed tuple: offset 1: string is not valid UTF-8"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args.back());
    const auto result = cli.run(args);
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CHECK(line_count(result.err) == 1);
    CHECK(result.err.find(message) == 0);
  }
}
