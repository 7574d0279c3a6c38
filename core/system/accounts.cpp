#include "core/system/accounts.h"

#include <grp.h>
#include <unistd.h>

#include <string>

#include "core/modules/module_loader.h"
#include "core/services/service_spec.h"

namespace hub {

Result<std::optional<Account>> service_account(const ServiceSpec& spec,
                                               std::optional<gid_t> services_group) {
  if (!spec.user && !spec.group) return std::optional<Account>();
  if (!spec.user) return Status::error("group: needs a user: to go with it");
  if (::geteuid() != 0) {
    return Status::error("user: hubd runs as uid " + std::to_string(::geteuid()) +
                         ", not root, so it cannot run a service as " + spec.user->name);
  }
  if (!services_group) {
    return Status::error("user: " + spec.user->name +
                         " could not reach the bus: set services.group in hub.yml (the group "
                         "that services of other users reach var/run/hub with)");
  }
  // Its own group (so what it owns is not shared with other modules' users), and the bus's
  // as its only supplementary group.
  const gid_t gid = spec.group ? spec.group->second : spec.user->gid;
  return std::optional<Account>(Account{spec.user->uid, gid, services_group});
}

Result<std::optional<Account>> module_account(const Module& module,
                                              std::optional<gid_t> services_group) {
  if (!module.service) return std::optional<Account>();
  return service_account(*module.service, services_group);
}

const char* take_on_account(const Account& account) {
  const gid_t extra = account.extra_group.value_or(0);
  if (::setgroups(account.extra_group ? 1 : 0, &extra) != 0) return "setting groups";
  if (::setgid(account.gid) != 0) return "group";
  if (::setuid(account.uid) != 0) return "user";
  return nullptr;
}

}  // namespace hub
