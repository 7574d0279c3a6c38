// bus/small_file.h: the one way hub reads a file someone else may have placed.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "bus/consumer_mark.h"
#include "bus/credentials.h"
#include "bus/curve.h"
#include "bus/small_file.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;
namespace fs = std::filesystem;

TEST_CASE("a small regular file is read whole, with its owner and mode", "[files]") {
  TempDir dir;
  const fs::path file = dir.write("a.txt", "hello\nworld\n");
  fs::permissions(file, fs::perms(0640));
  auto read = read_small_file(file, SmallFileOptions{});
  REQUIRE(read);
  CHECK(read->text == "hello\nworld\n");
  CHECK(read->owner == ::geteuid());
  CHECK(read->mode == 0640);
  CHECK(*read_small_file(dir.write("empty", ""), 10) == "");
}

TEST_CASE("anything but a regular file is refused, saying what it is, without blocking",
          "[files]") {
  TempDir dir;
  const fs::path directory = dir.path() / "a.yml";
  fs::create_directory(directory);
  const fs::path fifo = dir.path() / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);  // no writer: an open without O_NONBLOCK waits
  const fs::path socket_file = dir.path() / "sock";
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_file.c_str());
  REQUIRE(::bind(sock, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);

  const auto error = [](const fs::path& file) {
    auto read = read_small_file(file, 1024);
    REQUIRE_FALSE(read);
    return read.error();
  };
  CHECK(error(directory) == directory.string() + ": is a directory, expected a regular file");
  CHECK(error(fifo) == fifo.string() + ": is a FIFO, expected a regular file");
  CHECK(error(socket_file) == socket_file.string() + ": is a socket, expected a regular file");
  CHECK(error("/dev/zero") == "/dev/zero: is a character device, expected a regular file");
  CHECK(error(dir.path() / "none") == (dir.path() / "none").string() + ": missing");
  ::close(sock);
}

TEST_CASE("a file larger than the bound is refused, not cut", "[files]") {
  TempDir dir;
  const fs::path file = dir.write("big", std::string(1025, 'x'));
  auto read = read_small_file(file, 1024);
  REQUIRE_FALSE(read);
  CHECK(read.error() == file.string() + ": is 1025 bytes, more than the 1024 allowed");
  CHECK(read_small_file(dir.write("fits", std::string(1024, 'x')), 1024));
}

TEST_CASE("a leading byte-order mark is dropped, and only a leading one", "[files]") {
  TempDir dir;
  CHECK(*read_small_file(dir.write("a",
                                   "\xEF\xBB\xBF"
                                   "1.0.0\n"),
                         64) == "1.0.0\n");
  CHECK(*read_small_file(dir.write("b", "1.0\xEF\xBB\xBF"), 64) == "1.0\xEF\xBB\xBF");
}

TEST_CASE("without following links, a symbolic link is refused", "[files]") {
  TempDir dir;
  const fs::path target = dir.write("key", "secret\n");
  const fs::path link = dir.path() / "link";
  fs::create_symlink(target, link);
  SmallFileOptions options;
  CHECK(read_small_file(link, options));
  options.follow_links = false;
  auto read = read_small_file(link, options);
  REQUIRE_FALSE(read);
  CHECK(read.error() == link.string() + ": is a symbolic link, expected a regular file");
}

TEST_CASE("credentials, keys and consumer marks refuse a FIFO or a directory without waiting",
          "[files]") {
  TempDir dir;
  const fs::path fifo = dir.path() / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const fs::path directory = dir.path() / "dir";
  fs::create_directory(directory);
  for (const fs::path& bad : {fifo, directory}) {
    auto credential = read_credential_file(bad);
    REQUIRE_FALSE(credential);
    CHECK_THAT(credential.error(), Catch::StartsWith("credential " + bad.string() + ": is a "));
    auto curve = load_curve_server(bad, bad);
    REQUIRE_FALSE(curve);
    CHECK_THAT(curve.error(), Catch::StartsWith(bad.string() + ": is a "));
    const ConsumerMark mark(bad);
    CHECK_FALSE(mark.found());
    CHECK(mark.acked() == 0);
  }
}
