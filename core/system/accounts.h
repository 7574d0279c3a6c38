// Who a module's processes run as: the account service.yml names (user: and group:), and
// the one way a child process takes it on. Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <optional>

#include "bus/status.h"

namespace hub {

struct Module;
struct ServiceSpec;

// A user and group that files are given to, and processes run as (a service that runs as
// another user, and its module's scripts).
struct Account {
  uid_t uid = 0;
  gid_t gid = 0;                     // the primary group; files given to it get this one
  std::optional<gid_t> extra_group;  // the only supplementary group of its processes
};

// The account a module's service and scripts run as (service.yml user: and group:), or
// nullopt for hubd's own; fails saying why it cannot be (hubd not root, no services.group).
Result<std::optional<Account>> service_account(const ServiceSpec& spec,
                                               std::optional<gid_t> services_group);
// The same for a module: nullopt when it runs no service.
Result<std::optional<Account>> module_account(const Module& module,
                                              std::optional<gid_t> services_group);

// Makes the calling process `account`, in this order: its supplementary groups (the extra
// group alone, or none), its group, its user. For a child between fork and exec: only
// async-signal-safe calls, and a change of user clears PR_SET_PDEATHSIG (set it after).
// Returns nullptr, or the step that failed ("setting groups", "group", "user") with errno
// set.
const char* take_on_account(const Account& account);

}  // namespace hub
