#include "support/mqtt_broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace hub::test {
namespace fs = std::filesystem;

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Runs a helper program to completion; throws with its output when it fails.
void run_or_throw(const std::string& program, const std::vector<std::string>& args) {
  ChildProcess child(find_program(program), args);
  const auto code = child.wait_exit(30s);
  if (code != 0) {
    std::string command = program;
    for (const auto& arg : args) command += " " + arg;
    throw std::runtime_error(command + " failed: " + child.stderr_text());
  }
}

// A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, all
// signed by the CA, in `dir` (ca.crt, server.{crt,key}, client.{crt,key}). EC keys: fast.
void make_certificates(const fs::path& dir) {
  const auto path = [&](const char* name) { return (dir / name).string(); };
  const std::vector<std::string> ec_key = {"-newkey", "ec", "-pkeyopt",
                                           "ec_paramgen_curve:prime256v1", "-nodes"};
  auto ca = std::vector<std::string>{"req",   "-x509",           "-days",   "2",
                                     "-subj", "/CN=hub test CA", "-keyout", path("ca.key"),
                                     "-out",  path("ca.crt")};
  ca.insert(ca.end(), ec_key.begin(), ec_key.end());
  run_or_throw("openssl", ca);

  const auto issue = [&](const std::string& name, const std::string& cn,
                         const std::string& extensions) {
    std::ofstream(path((name + ".ext").c_str())) << extensions << "\n";
    auto request = std::vector<std::string>{"req",     "-new",
                                            "-subj",   "/CN=" + cn,
                                            "-keyout", path((name + ".key").c_str()),
                                            "-out",    path((name + ".csr").c_str())};
    request.insert(request.end(), ec_key.begin(), ec_key.end());
    run_or_throw("openssl", request);
    run_or_throw("openssl",
                 {"x509", "-req", "-days", "2", "-in", path((name + ".csr").c_str()), "-CA",
                  path("ca.crt"), "-CAkey", path("ca.key"), "-CAcreateserial", "-extfile",
                  path((name + ".ext").c_str()), "-out", path((name + ".crt").c_str())});
  };
  issue("server", "localhost",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth");
  issue("client", "hub-test-client", "extendedKeyUsage=clientAuth");
}

std::string current_user() {
  const passwd* entry = ::getpwuid(::geteuid());
  return entry != nullptr ? entry->pw_name : "root";
}

}  // namespace

int pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_accepts(int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    const sockaddr_in addr = loopback(port);
    const bool connected =
        ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (connected) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);  // a refused connect returns at once: pace the retries
  }
}

std::string find_program(const std::string& name) {
  std::string dirs = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  dirs += ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin";
  std::istringstream list(dirs);
  for (std::string dir; std::getline(list, dir, ':');) {
    if (dir.empty()) continue;
    const fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return name;
}

MosquittoBroker::MosquittoBroker(MosquittoOptions options) : options_(std::move(options)) {
  if (options_.tls) make_certificates(dir_.path());
  if (!options_.users.empty()) {
    const auto file = (dir_.path() / "passwords").string();
    bool first = true;
    for (const auto& [user, password] : options_.users) {
      std::vector<std::string> args = {"-b", file, user, password};
      if (first) args.insert(args.begin(), "-c");
      run_or_throw("mosquitto_passwd", args);
      first = false;
    }
  }
  start();
}

MosquittoBroker::~MosquittoBroker() {
  try {
    stop();
  } catch (...) {
  }
}

fs::path MosquittoBroker::cert_path(const std::string& name) const {
  return options_.tls ? dir_.path() / name : fs::path();
}

void MosquittoBroker::write_config() const {
  std::ostringstream conf;
  // As root, mosquitto would switch to the "mosquitto" user, who cannot read this directory.
  conf << "user " << current_user() << "\n"
       << "per_listener_settings false\n"
       << "allow_anonymous " << (options_.users.empty() ? "true" : "false") << "\n";
  if (!options_.users.empty())
    conf << "password_file " << (dir_.path() / "passwords").string() << "\n";
  conf << "persistence true\n"
       << "persistence_location " << dir_.path().string() << "/\n"
       << "log_dest stderr\n";
  if (options_.unlimited_queues) conf << "max_queued_messages 0\nmax_inflight_messages 0\n";
  conf << "listener " << port_ << " 127.0.0.1\n";
  if (options_.tls) {
    conf << "listener " << tls_port_ << " 127.0.0.1\n"
         << "cafile " << ca_file().string() << "\n"
         << "certfile " << (dir_.path() / "server.crt").string() << "\n"
         << "keyfile " << (dir_.path() / "server.key").string() << "\n"
         << "require_certificate " << (options_.require_certificate ? "true" : "false") << "\n";
  }
  conf << options_.extra_config << "\n";
  dir_.write("mosquitto.conf", conf.str());
}

bool MosquittoBroker::launch() {
  write_config();
  process_ = std::make_unique<ChildProcess>(find_program("mosquitto"),
                                            std::vector<std::string>{"-c", config_file().string()});
  // mosquitto says "running" once every listener is bound; it exits when one cannot be.
  const bool up = process_->wait_stderr(" running", 20s).has_value() && port_accepts(port_, 20s) &&
                  (!options_.tls || port_accepts(tls_port_, 20s));
  if (up) return true;
  process_->signal(SIGKILL);
  process_->wait_exit(20s);
  last_log_ = process_->stderr_text();
  process_.reset();
  if (last_log_.find("Address already in use") != std::string::npos) return false;
  throw std::runtime_error("mosquitto did not start:\n" + last_log_);
}

void MosquittoBroker::start() {
  if (process_) return;
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (!ports_fixed_) {
      port_ = pick_free_port();
      if (options_.tls) {
        do tls_port_ = pick_free_port();
        while (tls_port_ == port_);
      }
    }
    if (launch()) {
      ports_fixed_ = true;
      return;
    }
    // Someone took a port. A fresh broker picks others; a restart must keep its ports, so it
    // waits for them to be free again (an outgoing connection may hold one for a moment).
    if (ports_fixed_) std::this_thread::sleep_for(100ms);
  }
  throw std::runtime_error("mosquitto could not bind its ports:\n" + last_log_);
}

void MosquittoBroker::stop() {
  if (!process_) return;
  process_->signal(SIGTERM);
  if (!process_->wait_exit(20s)) {
    process_->signal(SIGKILL);
    process_->wait_exit(20s);
  }
  last_log_ = process_->stderr_text();
  process_.reset();
}

void MosquittoBroker::kill() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait_exit(20s);
  last_log_ = process_->stderr_text();
  process_.reset();
}

int MosquittoBroker::pid() const { return process_ ? process_->pid() : 0; }

std::string MosquittoBroker::log() const { return process_ ? process_->stderr_text() : last_log_; }

}  // namespace hub::test
