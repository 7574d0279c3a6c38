// What the console's server asks of the hub (ConsoleBackend), answered through the
// service's SDK Context (inspect), the journal (history, with the service's own
// credential: service.yml `subscribe: ["#"]` lets it read everything), and the API as the
// administrator (start, stop, restart: with the credential console.yml `admin_credential`
// names, read at each call, so a console that cannot read it can show but not change).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <hub/sdk.h>
#include <zmq.hpp>

#include "bus/credentials.h"
#include "bus/root_layout.h"
#include "bus/status.h"
#include "console/console_config.h"
#include "console/console_server.h"

namespace hub::console {

class HubBackend {
 public:
  // Events `history` scans back for `last` matching ones.
  static constexpr uint64_t kLastScan = 200000;

  HubBackend(sdk::Context& ctx, ConsoleConfig config, RootLayout layout);

  // The newest sequence number on the bus.
  Result<uint64_t> newest_seq();
  // ConsoleBackend::history.
  Result<uint64_t> history(uint64_t from, uint64_t last, const std::vector<std::string>& patterns,
                           const std::function<bool(const EventView&)>& on_event);
  // ConsoleBackend::control.
  Result<std::string> control(const std::string& request);
  // ConsoleBackend::tokens: the token file's first line (when 16 characters or more), and
  // the administrator's secret (when readable).
  std::vector<std::string> tokens() const;
  // The server's view of this object, which must outlive it.
  ConsoleBackend functions();

 private:
  Result<Credential> own_credential() const;

  sdk::Context& ctx_;
  ConsoleConfig config_;
  RootLayout layout_;
  zmq::context_t zmq_{1};
  std::mutex api_mu_;      // one API call at a time
  std::mutex history_mu_;  // one journal read at a time: the broker's thread serves them, and
                           // reading needs no credential, so browsers cannot pile them up
};

}  // namespace hub::console
