#include "bus/root_layout.h"

namespace hub {

using path = RootLayout::path;

path RootLayout::config_file() const { return root_ / "config/hub.yml"; }

path RootLayout::module_config_dir(const std::string& level, const std::string& module) const {
  return root_ / "config" / level / "modules" / module;
}

path RootLayout::modules_dir(const std::string& level) const { return root_ / "modules" / level; }

path RootLayout::site_events_dir() const { return root_ / "events"; }

path RootLayout::module_data_dir(const std::string& module) const {
  return root_ / "data" / module;
}

path RootLayout::run_dir() const { return root_ / "var/run/hub"; }

path RootLayout::lock_file() const { return run_dir() / "hubd.lock"; }

BusPaths RootLayout::bus() const {
  BusPaths p;
  p.run_dir = run_dir();
  p.ingest_socket = p.run_dir / "ingest.sock";
  p.events_socket = p.run_dir / "events.sock";
  p.replay_socket = p.run_dir / "replay.sock";
  p.api_socket = p.run_dir / "api.sock";
  p.admin_credential = admin_credential();
  return p;
}

path RootLayout::module_run_dir(const std::string& module) const {
  return run_dir() / "modules" / module;
}

path RootLayout::module_config_file(const std::string& module) const {
  return module_run_dir(module) / "config.yml";
}

path RootLayout::script_credential_file(const std::string& module) const {
  return module_run_dir(module) / "credential";
}

path RootLayout::workspace_dir(const std::string& instance) const {
  return run_dir() / "services" / instance;
}

path RootLayout::instance_records_dir() const { return run_dir() / "instances"; }

path RootLayout::script_records_dir() const { return run_dir() / "scripts"; }

path RootLayout::db_dir() const { return root_ / "var/db/hub"; }

path RootLayout::admin_credential() const { return db_dir() / "admin.cred"; }

path RootLayout::journal_dir() const { return db_dir() / "journal"; }

path RootLayout::consumer_mark_file(const std::string& consumer) const {
  return db_dir() / "consumers" / consumer;
}

path RootLayout::log_dir() const { return root_ / "var/log/hub"; }

path RootLayout::hubd_log() const { return log_dir() / "hubd.log"; }

path RootLayout::instance_log(const std::string& instance) const {
  return log_dir() / (instance + ".log");
}

path RootLayout::instance_log_dir(const std::string& instance) const {
  return log_dir() / "services" / instance;
}

path RootLayout::script_logs_dir() const { return log_dir() / "scripts"; }

path RootLayout::script_log(const std::string& owner) const {
  return script_logs_dir() / ((owner.empty() ? std::string("_site") : owner) + ".log");
}

}  // namespace hub
