#include "console/console_server.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <regex>

#include <yaml-cpp/yaml.h>

#include "bus/text.h"
#include "bus/topic_filter.h"
#include "console/console_page.h"
#include "console/log_tail.h"
#include "console/prometheus_text.h"

namespace hub::console {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kModuleRoute = R"(/api/modules/([^/]+)/(start|stop|restart))";
constexpr const char* kInstanceRoute = R"(/api/instances/([^/]+)/(stop))";

void send_json(httplib::Response& res, int status, const std::string& json) {
  res.status = status;
  res.set_content(json, kJson);
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, JsonObject().add("error", message).str());
}

int http_status(Status::Code code) {
  switch (code) {
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kBadRequest:
      return 400;
    case Status::Code::kForbidden:
      return 403;
    case Status::Code::kTimeout:
      return 504;
    case Status::Code::kUnreachable:
      return 502;
    default:
      return 409;
  }
}

// A whole number parameter, `fallback` when absent; nullopt when malformed.
std::optional<uint64_t> number_param(const httplib::Request& req, const char* name,
                                     uint64_t fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool write(httplib::DataSink& sink, const std::string& text) {
  return sink.write(text.data(), text.size());
}

std::string sse(const char* event, const std::string& data) {
  return std::string("event: ") + event + "\ndata: " + data + "\n\n";
}

// One browser's event stream: history first (when asked), then live events newer than it.
struct LiveStream {
  std::shared_ptr<LiveClient> client;
  uint64_t from = 0;
  uint64_t last = 0;
  std::vector<std::string> patterns;
  bool history_done = false;
  uint64_t shown = 0;  // newest seq sent from the journal
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
};

}  // namespace

bool token_matches(const std::string& presented, const std::vector<std::string>& tokens) {
  bool match = false;
  for (const std::string& t : tokens) {
    if (t.empty() || t.size() != presented.size()) continue;
    unsigned char diff = 0;
    for (size_t i = 0; i < t.size(); ++i) diff |= static_cast<unsigned char>(t[i] ^ presented[i]);
    match = match || diff == 0;
  }
  return match;
}

struct ConsoleServer::Impl {
  ConsoleConfig config;
  ConsoleBackend backend;
  LiveFeed& feed;
  httplib::Server server;

  Impl(const ConsoleConfig& c, ConsoleBackend b, LiveFeed& f)
      : config(c), backend(std::move(b)), feed(f) {
    // A connection holds a thread while it is open, a live view for as long as it streams
    // and a keep-alive one while idle: room for every live view and kIdleRoom other
    // connections (a few browsers' and a scraper's), and idle ones let go after 2 s, so
    // a full house delays a request by that at worst instead of the library's 5 s.
    constexpr size_t kIdleRoom = 32;
    server.new_task_queue = [] {
      return new httplib::ThreadPool(LiveFeed::kMaxClients + kIdleRoom);
    };
    server.set_keep_alive_timeout(2);
    server.set_default_headers({{"Cache-Control", "no-store"},
                                {"X-Content-Type-Options", "nosniff"},
                                {"Content-Security-Policy",
                                 "default-src 'self'; img-src 'self' data:; "
                                 "style-src 'self'; script-src 'self'; frame-ancestors 'none'"}});
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (is_loopback(config.host) && !host_allowed(req.get_header_value("Host"))) {
        send_error(res, 421,
                   "Host must name this console (127.0.0.1:" + std::to_string(config.port) +
                       " or localhost:" + std::to_string(config.port) + ")");
        return httplib::Server::HandlerResponse::Handled;
      }
      return bodiless_post(req, res) ? httplib::Server::HandlerResponse::Handled
                                     : httplib::Server::HandlerResponse::Unhandled;
    });
    routes();
  }

  bool host_allowed(const std::string& host) const {
    const std::string port = ":" + std::to_string(config.port);
    for (const std::string& name :
         {config.host, std::string("127.0.0.1"), std::string("localhost"), std::string("[::1]")}) {
      if (host == name + port) return true;
    }
    return config.host == "::1" && host == "[::1]" + port;
  }

  void routes() {
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(page_html(), "text/html; charset=utf-8");
    });
    server.Get("/console.js", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(page_js(), "text/javascript; charset=utf-8");
    });
    server.Get("/console.css", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(page_css(), "text/css; charset=utf-8");
    });
    server.Get("/api/state",
               [this](const httplib::Request&, httplib::Response& res) { state(res); });
    server.Get("/api/rates", [this](const httplib::Request& req, httplib::Response& res) {
      const auto seconds = number_param(req, "seconds", 300);
      if (!seconds) return send_error(res, 400, "seconds: expected a whole number");
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      send_json(res, 200, feed.rates().json(static_cast<uint64_t>(now), *seconds));
    });
    server.Get("/api/timeline", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, feed.timeline().json());
    });
    server.Get("/api/logs",
               [this](const httplib::Request& req, httplib::Response& res) { logs(req, res); });
    server.Get("/api/live",
               [this](const httplib::Request& req, httplib::Response& res) { live(req, res); });
    server.Post(kModuleRoute, [this](const httplib::Request& req, httplib::Response& res) {
      control(req, res, req.matches[1], req.matches[2], /*instance=*/false);
    });
    server.Post(kInstanceRoute, [this](const httplib::Request& req, httplib::Response& res) {
      control(req, res, req.matches[1], req.matches[2], /*instance=*/true);
    });
    server.Get("/metrics",
               [this](const httplib::Request&, httplib::Response& res) { metrics(res); });
  }

  void state(httplib::Response& res) {
    auto inspect = backend.inspect();
    if (!inspect) return send_error(res, http_status(inspect.code()), inspect.error());
    std::string console = JsonObject()
                              .add("live_rate", static_cast<int64_t>(config.live_rate))
                              .add("live_queue", static_cast<int64_t>(config.live_queue))
                              .add("history_max", static_cast<int64_t>(config.history_max))
                              .add("live_views", static_cast<int64_t>(feed.clients()))
                              .add("max_live_views", static_cast<int64_t>(LiveFeed::kMaxClients))
                              .add("events_seen", static_cast<int64_t>(feed.events_seen()))
                              .str();
    send_json(res, 200, "{\"inspect\":" + *inspect + ",\"console\":" + console + "}");
  }

  void logs(const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.get_param_value("name");
    if (!is_instance_name(name))
      return send_error(res, 400, "name: expected a service instance (NAME or NAME.X)");
    const auto lines = number_param(req, "lines", 200);
    if (!lines || *lines == 0 || *lines > 5000)
      return send_error(res, 400, "lines: expected a whole number from 1 to 5000");
    auto text = tail_lines(backend.log_file(name), *lines);
    if (!text) return send_error(res, http_status(text.code()), text.error());
    res.set_content(*text, "text/plain; charset=utf-8");
  }

  // True when the request presents an accepted token; else answers 401 or 403.
  bool authorized(const httplib::Request& req, httplib::Response& res) {
    const std::string header = req.get_header_value("Authorization");
    const std::string bearer = "bearer ";  // the scheme is case-insensitive (RFC 9110)
    const bool is_bearer =
        header.size() > bearer.size() &&
        std::equal(bearer.begin(), bearer.end(), header.begin(),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
    if (!is_bearer) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"hub console\"");
      send_error(res, 401,
                 "changing state needs Authorization: Bearer TOKEN (the console's "
                 "token_file, or the administrator's secret)");
      return false;
    }
    if (!token_matches(header.substr(bearer.size()), backend.tokens())) {
      send_error(res, 403, "the token is not one the console accepts");
      return false;
    }
    return true;
  }

  // A POST of the routes above with no body and no Content-Length (`curl -X POST URL`),
  // which the HTTP library would refuse (400, no word why) before routing it: answered
  // here. False for any other request.
  bool bodiless_post(const httplib::Request& req, httplib::Response& res) {
    if (req.method != "POST" || req.has_header("Content-Length") ||
        req.has_header("Transfer-Encoding"))
      return false;
    static const std::regex module_route(kModuleRoute), instance_route(kInstanceRoute);
    std::smatch m;
    const bool instance = std::regex_match(req.path, m, instance_route);
    if (!instance && !std::regex_match(req.path, m, module_route)) return false;
    control(req, res, m[1], m[2], instance);
    return true;
  }

  // POST /api/modules/NAME/ACTION and /api/instances/NAME.X/stop.
  void control(const httplib::Request& req, httplib::Response& res, const std::string& name,
               const std::string& method, bool instance) {
    if (!authorized(req, res)) return;
    const bool dotted = name.find('.') != std::string::npos;
    if (!is_instance_name(name) || dotted != instance) {
      return send_error(res, 400,
                        std::string("expected ") +
                            (instance ? "a dynamic instance NAME.X" : "a module name") + ", not '" +
                            name + "'");
    }
    auto result = backend.control(
        JsonObject().add("method", method).add(instance ? "instance" : "name", name).str());
    if (!result) return send_error(res, http_status(result.code()), result.error());
    send_json(res, 200, "{\"result\":" + *result + "}");
  }

  void metrics(httplib::Response& res) {
    auto inspect = backend.inspect();
    if (!inspect) {
      res.status = http_status(inspect.code());
      return res.set_content(inspect.error() + "\n", "text/plain; charset=utf-8");
    }
    try {
      res.set_content(prometheus_text(YAML::Load(*inspect)), kPrometheusContentType);
    } catch (const YAML::Exception& e) {
      res.status = 502;
      res.set_content(std::string("inspect is not JSON: ") + e.what() + "\n", "text/plain");
    }
  }

  void live(const httplib::Request& req, httplib::Response& res) {
    auto stream = std::make_shared<LiveStream>();
    for (size_t i = 0, n = req.get_param_value_count("pattern"); i < n; ++i) {
      const std::string p = req.get_param_value("pattern", i);
      if (!p.empty()) stream->patterns.push_back(p);
    }
    auto filter = TopicFilter::parse(stream->patterns);
    if (!filter) return send_error(res, 400, "pattern: " + filter.error());
    const auto from = number_param(req, "from", 0);
    const auto last = number_param(req, "last", 0);
    if (!from || !last) return send_error(res, 400, "from, last: expected whole numbers");
    if (*from && *last) return send_error(res, 400, "from and last exclude each other");
    stream->from = *from;
    stream->last = std::min<uint64_t>(*last, config.history_max);
    // A browser reconnecting says the last event it got: it goes on after it, from the
    // journal, instead of being sent its history again or missing what came meanwhile.
    if (const std::string id = req.get_header_value("Last-Event-ID"); !id.empty()) {
      uint64_t seq = 0;
      auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), seq);
      if (ec == std::errc() && end == id.data() + id.size()) {
        stream->from = seq + 1;
        stream->last = 0;
      }
    }
    stream->client = feed.join(std::move(*filter), config.live_rate, config.live_queue);
    if (!stream->client) {
      return send_error(
          res, 503,
          "already " + std::to_string(LiveFeed::kMaxClients) + " live views open: close one");
    }
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, stream](size_t, httplib::DataSink& sink) { return pump(*stream, sink); },
        [this, stream](bool) { feed.leave(stream->client); });
  }

  // One step of a live view; false ends it (the browser left, or shutdown).
  bool pump(LiveStream& s, httplib::DataSink& sink) {
    if (!s.history_done) {
      s.history_done = true;
      std::string hello = JsonObject()
                              .add("live_rate", static_cast<int64_t>(config.live_rate))
                              .add("live_queue", static_cast<int64_t>(config.live_queue))
                              .str();
      if (!write(sink, sse("hello", hello))) return false;
      if (s.from || s.last) {
        uint64_t sent = 0;
        bool ok = true;
        auto end = backend.history(s.from, s.last, s.patterns, [&](const EventView& e) {
          ok = write(sink, "id: " + std::to_string(e.seq) + "\n" +
                               sse("event", event_json(e, /*history=*/true)));
          s.shown = e.seq;
          return ok && ++sent < config.history_max;
        });
        if (!ok) return false;
        std::string done = end ? JsonObject()
                                     .add("events", static_cast<int64_t>(sent))
                                     .add("last_seq", static_cast<int64_t>(*end))
                                     .str()
                               : JsonObject().add("error", end.error()).str();
        if (!write(sink, sse("history", done))) return false;
      }
    }
    LiveBatch batch = s.client->take(std::chrono::milliseconds(500));
    if (batch.closed) return false;
    std::string out;
    for (const LiveEvent& e : batch.events) {
      if (e.seq <= s.shown) continue;  // shown already from the journal
      out += "id: " + std::to_string(e.seq) + "\nevent: event\ndata: ";
      out += *e.json;
      out += "\n\n";
    }
    if (batch.sampled || batch.dropped) {
      out += sse("skipped", JsonObject()
                                .add("sampled", static_cast<int64_t>(batch.sampled))
                                .add("dropped", static_cast<int64_t>(batch.dropped))
                                .str());
    }
    // An idle view writes a comment each second: only a write finds out that the browser
    // left, and its slot (one of kMaxClients) is free again a second or two after.
    const auto now = std::chrono::steady_clock::now();
    if (out.empty() && now - s.last_write >= std::chrono::seconds(1)) out = ":\n\n";
    if (out.empty()) return true;
    s.last_write = now;
    return write(sink, out);
  }
};

ConsoleServer::ConsoleServer(const ConsoleConfig& config, ConsoleBackend backend, LiveFeed& feed)
    : impl_(std::make_unique<Impl>(config, std::move(backend), feed)) {}

ConsoleServer::~ConsoleServer() = default;

Status ConsoleServer::bind() {
  if (impl_->config.port == 0) {
    impl_->config.port = impl_->server.bind_to_any_port(impl_->config.host.c_str());
    if (impl_->config.port > 0) return Status::ok();
  } else if (impl_->server.bind_to_port(impl_->config.host.c_str(), impl_->config.port)) {
    return Status::ok();
  }
  {
    return Status::error("cannot listen on " + impl_->config.host + ":" +
                         std::to_string(impl_->config.port) +
                         " (console.yml listen: in use, or not an address of this host)");
  }
}

int ConsoleServer::port() const { return impl_->config.port; }

void ConsoleServer::serve() { impl_->server.listen_after_bind(); }

void ConsoleServer::stop() {
  impl_->feed.close_all();
  impl_->server.stop();
}

}  // namespace hub::console
