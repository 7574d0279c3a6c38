#include "support/fake_journal.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <stdexcept>

namespace hub::test {

FakeJournal::FakeJournal(std::filesystem::path path) : path_(std::move(path)) {
  listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  stop_.reset(::eventfd(0, EFD_CLOEXEC));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = path_.string();
  if (!listener_ || !stop_ || p.size() >= sizeof addr.sun_path) {
    throw std::runtime_error("fake journal: " + p);
  }
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_.get(), 16) != 0) {
    throw std::runtime_error("fake journal: " + p + ": " + std::strerror(errno));
  }
  thread_ = std::thread([this] { run(); });
}

FakeJournal::~FakeJournal() {
  const uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof one);
  thread_.join();
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

void FakeJournal::run() {
  std::vector<unique_fd> clients;
  std::vector<size_t> index;  // clients[i] feeds streams_[index[i]]
  for (;;) {
    std::vector<pollfd> fds = {{stop_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
    for (const auto& c : clients) fds.push_back({c.get(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents) return;
    if (fds[1].revents & POLLIN) {
      unique_fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client) {
        std::lock_guard lock(mu_);
        index.push_back(streams_.size());
        streams_.emplace_back();
        clients.push_back(std::move(client));
      }
    }
    // Only the clients this poll watched (one accepted just now waits for the next).
    for (size_t i = 0; i + 2 < fds.size(); ++i) {
      if (!clients[i] || !(fds[i + 2].revents & (POLLIN | POLLHUP))) continue;
      char buffer[4096];
      const ssize_t n = ::read(clients[i].get(), buffer, sizeof buffer);
      if (n <= 0) {
        clients[i].reset();  // stays in the list (its slot), never polled again
        continue;
      }
      std::lock_guard lock(mu_);
      streams_[index[i]].append(buffer, static_cast<size_t>(n));
      changed_.notify_all();
    }
  }
}

std::optional<std::string> FakeJournal::wait_for(const std::string& text,
                                                 std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::optional<std::string> found;
  changed_.wait_for(lock, timeout, [&] {
    for (const auto& stream : streams_) {
      if (stream.find(text) != std::string::npos) {
        found = stream;
        return true;
      }
    }
    return false;
  });
  return found;
}

}  // namespace hub::test
