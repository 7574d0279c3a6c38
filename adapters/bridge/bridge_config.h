// The bridge's configuration: the module's config files (config/LEVEL/modules/Bridge/*.yml,
// merged as hubd merges them: maps key by key, deeply, later files win; lists and scalars
// replace). Every problem is reported as FILE:LINE:COL: KEY: what was expected, naming the
// file that gave the value, so `bridge --check` (hubd runs it at load) can reject the module
// with the line to fix.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bridge/topic_template.h"

namespace hub::bridge {

enum class PayloadForm {
  kRaw,      // the event's payload as it is
  kWrapped,  // a JSON object: the stamped header and the payload (payload_form.h)
};

struct TlsSettings {
  std::string ca_file;    // verify the broker with this CA (PEM)
  std::string cert_file;  // client certificate and key, when the broker asks for one
  std::string key_file;
  bool insecure = false;  // do not check the broker's host name against its certificate
};

struct BrokerSettings {
  std::string host;
  int port = 1883;        // 8883 with tls
  int protocol = 4;       // MQTT_PROTOCOL_V311 (4) or MQTT_PROTOCOL_V5 (5)
  std::string client_id;  // a template: hub-{device} by default
  std::string username;
  std::string password;
  std::chrono::seconds keepalive{30};
  bool clean_session = false;  // false: the broker keeps the inbound subscriptions offline
  std::optional<TlsSettings> tls;
  // The largest message (topic and payload) the broker takes; larger ones are refused here
  // (counted, Bridge/refused) instead of being sent to a broker that would drop the
  // connection on them (MQTT 3.1.1 cannot say why). 0: no limit but the broker's own
  // (an MQTT 5 broker announces it).
  uint64_t max_message_size = 0;
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{10000};
};

// The birth message and the Last Will on one retained status topic.
struct StatusSettings {
  bool enabled = true;
  std::string topic = "fleet/{device}/status";  // a template
  std::string online = "online";
  std::string offline = "offline";
  int qos = 1;
};

struct OutboundRule {
  std::string from;  // a local pattern: Timer/#, +/failed, #
  TopicTemplate to;  // the remote topic: fleet/{device}/{module}/{event}
  int qos = 1;       // 0 or 1
  bool retain = false;
  PayloadForm payload = PayloadForm::kRaw;
};

struct InboundRule {
  std::string from;  // a remote filter (a template: fleet/{device}/cmd/#)
  std::string to;    // the local event: Bridge/TO
  int qos = 1;
  PayloadForm payload = PayloadForm::kWrapped;  // wrapped keeps the remote topic
};

struct BridgeConfig {
  BrokerSettings broker;
  std::string device;  // {device}: the config's, else $HUB_DEVICE, else the host name
  std::vector<OutboundRule> outbound;
  std::vector<InboundRule> inbound;
  // Events sent and not yet covered by the saved mark: what a crash may send twice.
  uint32_t window = 256;  // at most 32768: MQTT message ids are 16 bits
  StatusSettings status;
  std::chrono::milliseconds stats_every{1000};  // reported to the hub (inspect)
};

// Reads and merges `files` (lowest precedence first) and checks every setting. `device`
// is the default for `device:` when the files give none. Fails with every problem found,
// one a line, each FILE:LINE:COL: KEY: what was expected.
struct ConfigProblems {
  std::vector<std::string> lines;
  std::string text() const;
};
std::optional<BridgeConfig> load_bridge_config(const std::vector<std::string>& files,
                                               const std::string& default_device,
                                               ConfigProblems& problems);

}  // namespace hub::bridge
