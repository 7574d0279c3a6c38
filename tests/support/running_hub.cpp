#include "support/running_hub.h"

#include <signal.h>

#include <fstream>
#include <stdexcept>

#include "bus/bus_paths.h"
#include "bus/credentials.h"

namespace hub::test {
namespace fs = std::filesystem;

void add_module(const TempDir& root, const std::string& name, const std::string& service_yml,
                const std::string& depends, const std::string& level) {
  const std::string dir = "modules/" + level + "/" + name;
  root.write(dir + "/info/version.txt", "1.0.0\n");
  root.write(dir + "/info/depends.txt", depends);
  if (!service_yml.empty()) root.write(dir + "/service.yml", service_yml);
}

fs::path add_script(const TempDir& root, const std::string& relative, const std::string& body) {
  const fs::path file = root.write(relative, "#!/bin/sh\n" + body);
  fs::permissions(file, fs::perms(0755));
  return file;
}

RunningHub::RunningHub(const TempDir& root, const EnvVars& env)
    : RunningHub(root, fs::path(), env) {}

RunningHub::RunningHub(const TempDir& root, const fs::path& config_file, const EnvVars& env) {
  std::vector<std::string> args{"--root", root.path()};
  if (!config_file.empty()) args.insert(args.end(), {"--config", config_file.string()});
  auto layout = read_root_layout(
      root.path(), config_file.empty() ? RootLayout(root.path()).config_file() : config_file);
  if (!layout) throw std::runtime_error(layout.error());
  layout_ = std::move(*layout);
  hubd_ = std::make_unique<ChildProcess>(HUBD_PATH, args, env);
  if (!hubd_->wait_stderr("hub is up")) {
    throw std::runtime_error("hubd did not come up:\n" + hubd_->stderr_text());
  }
}

RunningHub::~RunningHub() { stop(); }

std::optional<int> RunningHub::stop() {
  if (!hubd_) return std::nullopt;
  hubd_->signal(SIGTERM);
  return hubd_->wait_exit(std::chrono::seconds(60));
}

Subscriber RunningHub::subscribe(std::vector<std::string> patterns, bool retained) {
  const BusPaths paths = layout_.bus();
  auto admin = read_credential_file(paths.admin_credential);
  if (!admin) throw std::runtime_error(admin.error());
  SubscriberOptions options;
  options.events_endpoint = ipc_endpoint(paths.events_socket);
  options.replay_endpoint = ipc_endpoint(paths.replay_socket);
  options.patterns = std::move(patterns);
  options.retained = retained;
  auto sub = Subscriber::open(ctx_, *admin, std::move(options));
  if (!sub) throw std::runtime_error(sub.error());
  return std::move(*sub);
}

Credential admin_credential(const TempDir& root) {
  auto admin = read_credential_file(BusPaths::for_root(root.path()).admin_credential);
  if (!admin) throw std::runtime_error(admin.error());
  return *admin;
}

std::string admin_api_call(const TempDir& root, const std::string& request) {
  zmq::context_t ctx(1);
  zmq::socket_t socket(ctx, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::rcvtimeo, 20000);
  set_plain_credential(socket, admin_credential(root));
  socket.connect(ipc_endpoint(BusPaths::for_root(root.path()).api_socket));
  (void)socket.send(zmq::message_t(), zmq::send_flags::sndmore);
  (void)socket.send(zmq::buffer(request), zmq::send_flags::none);
  zmq::message_t part;
  do {
    if (!socket.recv(part, zmq::recv_flags::none)) {
      throw std::runtime_error("no answer from the API within 20 s to " + request);
    }
  } while (part.size() == 0 && part.more());  // the delimiter
  return part.to_string();
}

SubscriberOptions recovering(const TempDir& root, std::vector<std::string> patterns) {
  const BusPaths paths = BusPaths::for_root(root.path());
  SubscriberOptions o;
  o.events_endpoint = ipc_endpoint(paths.events_socket);
  o.replay_endpoint = ipc_endpoint(paths.replay_socket);
  o.patterns = std::move(patterns);
  o.retained = false;
  o.recover = true;
  return o;
}

std::optional<Event> next_on(Subscriber& sub, std::string_view topic,
                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto event = sub.next(left);
    if (!event) return std::nullopt;
    if (event->topic() == topic) return event;
  }
}

std::string next_line(Subscriber& sub, std::chrono::milliseconds timeout) {
  auto event = sub.next(timeout);
  if (!event) return {};
  return std::string(event->topic()) + " " + std::string(event->payload());
}

std::string json_field(std::string_view payload, const std::string& key) {
  const std::string quoted = "\"" + key + "\":";
  const size_t at = payload.find(quoted);
  if (at == std::string_view::npos) return {};
  size_t begin = at + quoted.size();
  if (begin < payload.size() && payload[begin] == '"') {
    std::string value;
    for (size_t i = begin + 1; i < payload.size() && payload[i] != '"'; ++i) {
      if (payload[i] == '\\' && i + 1 < payload.size()) ++i;
      value += payload[i];
    }
    return value;
  }
  const size_t end = payload.find_first_of(",}", begin);
  return std::string(payload.substr(begin, end - begin));
}

int64_t json_int(std::string_view payload, const std::string& key) {
  const std::string text = json_field(payload, key);
  return text.empty() ? -1 : std::stoll(text);
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace hub::test
